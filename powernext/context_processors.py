from . import company as facts


def company(request):
    return {
        "EMERGENCY_PHONE": facts.EMERGENCY_PHONE,
        "SUPPORT_PHONE": facts.SUPPORT_PHONE,
        "SUPPORT_EMAIL": facts.SUPPORT_EMAIL,
    }
