from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CUSTOMER = "CUSTOMER", _("Client")
    AGENT = "AGENT", _("Conseiller")
    SUPERVISOR = "SUPERVISOR", _("Superviseur")
    FIELD_TECHNICIAN = "FIELD_TECHNICIAN", _("Technicien terrain")
    ADMIN = "ADMIN", _("Administrateur")


STAFF_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.FIELD_TECHNICIAN, Role.ADMIN})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("adresse e-mail"), unique=True)
    first_name = models.CharField(_("prénom"), max_length=150, blank=True)
    last_name = models.CharField(_("nom"), max_length=150, blank=True)
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CUSTOMER)
    preferred_language = models.CharField(
        max_length=5, choices=[("fr", "Français"), ("en", "English")], default="fr"
    )
    is_active = models.BooleanField(default=True)
    # Only controls access to /admin/; shell access is decided by `role`.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES


class AccountType(models.TextChoices):
    RESIDENTIAL = "RESIDENTIAL", _("Particulier")
    BUSINESS = "BUSINESS", _("Professionnel")


class Account(models.Model):
    number = models.CharField(_("numéro de compte"), max_length=10, unique=True)
    type = models.CharField(max_length=12, choices=AccountType.choices)
    name = models.CharField(_("titulaire"), max_length=200)
    billing_address = models.TextField(_("adresse de facturation"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="AccountMembership", related_name="accounts")

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class MemberRole(models.TextChoices):
    HOLDER = "HOLDER", _("Titulaire")
    OWNER = "OWNER", _("Propriétaire")
    ADMIN = "ADMIN", _("Administrateur")
    BILLING = "BILLING", _("Facturation")
    VIEWER = "VIEWER", _("Lecture seule")


class AccountMembership(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=MemberRole.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="uniq_account_member"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.account_id}"


class AreaClass(models.TextChoices):
    URBAN = "URBAN", _("Urbain")
    RURAL = "RURAL", _("Rural")


class Premise(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="premises")
    address = models.CharField(_("adresse"), max_length=255)
    postcode = models.CharField(_("code postal"), max_length=10, db_index=True)
    city = models.CharField(_("commune"), max_length=120)
    area_class = models.CharField(max_length=5, choices=AreaClass.choices)

    def __str__(self) -> str:
        return f"{self.address}, {self.postcode} {self.city}"
