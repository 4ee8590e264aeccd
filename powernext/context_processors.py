from accounts import company as facts


def company(request):
    return {
        "EMERGENCY_PHONE": facts.EMERGENCY_PHONE,
        "SUPPORT_PHONE": facts.SUPPORT_PHONE,
        "SUPPORT_EMAIL": facts.SUPPORT_EMAIL,
        "SUPPORT_TEL": facts.SUPPORT_TEL,
        "EMERGENCY_TEL": facts.EMERGENCY_TEL,
    }
