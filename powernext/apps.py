from django.contrib.admin.apps import AdminConfig


class PowerNextAdminConfig(AdminConfig):
    default_site = "powernext.admin.PowerNextAdminSite"
