from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.indexes import GinIndex
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
        # Trigram indexes: the console searches 100k+ customers by partial text.
        indexes = [
            GinIndex(fields=["email"], name="user_email_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["last_name"], name="user_last_name_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["phone"], name="user_phone_trgm", opclasses=["gin_trgm_ops"]),
        ]

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


class NotifyChannel(models.TextChoices):
    EMAIL = "EMAIL", _("E-mail")
    SMS = "SMS", _("SMS")
    POST = "POST", _("Courrier")
    NONE = "NONE", _("Aucun")


class SlaPackage(models.Model):
    """Business service packages; prices and targets are data an admin edits."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=60)
    monthly_price = models.DecimalField(max_digits=8, decimal_places=2)
    response_business_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    named_emergency_contact = models.BooleanField(default=False)
    availability_target_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    # Credited for each month the supply points' availability falls below the target.
    availability_service_credit = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )

    def __str__(self) -> str:
        return self.name


class AccountStatus(models.TextChoices):
    ACTIVE = "ACTIVE", _("Actif")
    ANONYMISED = "ANONYMISED", _("Anonymisé")


class Account(models.Model):
    number = models.CharField(_("numéro de compte"), max_length=10, unique=True)
    type = models.CharField(max_length=12, choices=AccountType.choices)
    status = models.CharField(max_length=12, choices=AccountStatus.choices, default="ACTIVE")
    name = models.CharField(_("titulaire"), max_length=200)
    billing_address = models.TextField(_("adresse de facturation"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    language = models.CharField(
        _("langue"), max_length=2, choices=[("fr", "Français"), ("en", "English")], default="fr"
    )
    notify_billing = models.CharField(max_length=5, choices=NotifyChannel.choices, default="EMAIL")
    notify_outages = models.CharField(max_length=5, choices=NotifyChannel.choices, default="SMS")
    notify_tickets = models.CharField(max_length=5, choices=NotifyChannel.choices, default="EMAIL")
    marketing_opt_in = models.BooleanField(default=False)
    sla_package = models.ForeignKey(
        SlaPackage, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    account_manager = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_accounts"
    )
    emergency_contact_name = models.CharField(max_length=120, blank=True)
    emergency_contact_phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="AccountMembership", related_name="accounts")

    class Meta:
        indexes = [
            GinIndex(fields=["name"], name="account_name_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["phone"], name="account_phone_trgm", opclasses=["gin_trgm_ops"]),
        ]

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


class SupplyMarket(models.TextChoices):
    FR_PRM = "FR_PRM", _("France (PRM)")
    GB_MPAN = "GB_MPAN", _("Grande-Bretagne (MPAN)")
    EIC = "EIC", _("Europe (EIC)")


class SupplyPoint(models.Model):
    premise = models.ForeignKey(Premise, on_delete=models.CASCADE, related_name="supply_points")
    market = models.CharField(max_length=8, choices=SupplyMarket.choices)
    identifier = models.CharField(max_length=21)
    subscribed_kva = models.DecimalField(max_digits=6, decimal_places=1)
    meter_reference = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["market", "identifier"], name="uniq_supply_point"),
        ]

    def __str__(self) -> str:
        return f"{self.market} {self.identifier}"


class BankDetails(models.Model):
    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="bank_details")
    holder_name = models.CharField(max_length=120)
    iban = models.CharField(max_length=34)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"bank details of {self.account_id}"


class DependencyLevel(models.TextChoices):
    NONE = "NONE", _("Aucune")
    MEDIUM = "MEDIUM", _("Moyenne")
    HIGH = "HIGH", _("Élevée")
    CRITICAL = "CRITICAL", _("Vitale")


class PriorityRegistration(models.Model):
    """Priority services register: customers to contact and restore first."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, related_name="priority_registration"
    )
    medical_equipment = models.BooleanField(_("équipement médical électrique"), default=False)
    dependency_level = models.CharField(
        max_length=8, choices=DependencyLevel.choices, default=DependencyLevel.NONE
    )
    backup_autonomy_hours = models.PositiveSmallIntegerField(null=True, blank=True)
    age_over_75 = models.BooleanField(_("plus de 75 ans"), default=False)
    disability = models.BooleanField(_("handicap"), default=False)
    hearing_impairment = models.BooleanField(_("déficience auditive"), default=False)
    sight_impairment = models.BooleanField(_("déficience visuelle"), default=False)
    carer_name = models.CharField(max_length=120, blank=True)
    carer_phone = models.CharField(max_length=32, blank=True)
    carer_email = models.EmailField(blank=True)
    consent_field_sharing = models.BooleanField(default=False)
    consent_recorded_at = models.DateTimeField()
    review_date = models.DateField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"priority registration of {self.account_id}"


class AuditChannel(models.TextChoices):
    PORTAL = "PORTAL", _("Espace client")
    CONSOLE = "CONSOLE", _("Console")
    API = "API", _("API")
    ADMIN = "ADMIN", _("Administration")
    SYSTEM = "SYSTEM", _("Système")


class AuditEntry(models.Model):
    """One changed field. Append-only: nothing edits or deletes an entry."""

    account = models.ForeignKey(
        Account, null=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=8, choices=AuditChannel.choices)
    at = models.DateTimeField()
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40)
    field = models.CharField(max_length=60)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-at"])]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.field} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only.")


class DocumentKind(models.TextChoices):
    IDENTITY = "IDENTITY", _("Pièce d'identité")
    MOVE_IN = "MOVE_IN", _("Justificatif d'emménagement")
    CHANGE_OF_HOLDER = "CHANGE_OF_HOLDER", _("Changement de titulaire")
    PRIORITY_PROOF = "PRIORITY_PROOF", _("Justificatif médical")


class DocumentStatus(models.TextChoices):
    PENDING = "PENDING", _("À vérifier")
    ACCEPTED = "ACCEPTED", _("Accepté")
    REJECTED = "REJECTED", _("Refusé")


class Document(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    file = models.FileField(upload_to="private/documents/%Y/%m/")
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=DocumentStatus.choices, default="PENDING")
    uploaded_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=300, blank=True)
    retain_until = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} for {self.account_id}"


class ExportStatus(models.TextChoices):
    PENDING = "PENDING", _("En préparation")
    READY = "READY", _("Prêt")
    FAILED = "FAILED", _("Échec")


class DataExport(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=ExportStatus.choices, default="PENDING")
    file = models.FileField(upload_to="private/exports/", blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"export {self.pk} of {self.account_id}"


class ErasureStatus(models.TextChoices):
    OPEN = "OPEN", _("Ouverte")
    REFUSED = "REFUSED", _("Refusée")
    DONE = "DONE", _("Effectuée")


class ErasureRequest(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="erasure_requests")
    requested_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=ErasureStatus.choices, default="OPEN")
    processed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"erasure {self.pk} of {self.account_id}"


class ApiTier(models.TextChoices):
    STANDARD = "STANDARD", _("Standard (1 000 requêtes/h)")
    ENTERPRISE = "ENTERPRISE", _("Entreprise (10 000 requêtes/h)")


class ApiClientKind(models.TextChoices):
    BUSINESS = "BUSINESS", _("Client professionnel")
    STAFF = "STAFF", _("Centre de contacts")


# Who may own a staff client: the roles of the supervisor shell, whose KPI it reads
# (equal to accounts.access.SUPERVISOR_ROLES, which sits above this layer; tested).
STAFF_CLIENT_OWNER_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def may_own_staff_client(user: User | None) -> bool:
    """A staff client works only while this holds for its owner (`accounts.oauth`)."""
    return user is not None and user.is_active and user.role in STAFF_CLIENT_OWNER_ROLES


class ApiClient(models.Model):
    """An OAuth2 client-credentials application: a business integration bound to one account,
    or a staff client (the contact centre's own BI tool) owned by a supervisor or admin."""

    kind = models.CharField(
        max_length=10, choices=ApiClientKind.choices, default=ApiClientKind.BUSINESS
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="api_clients"
    )
    # PROTECT: a staff credential must be revoked or handed over before its owner goes.
    owner = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_api_clients",
    )
    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="api_client"
    )
    name = models.CharField(max_length=100)
    scopes = models.CharField(max_length=200)
    tier = models.CharField(max_length=10, choices=ApiTier.choices, default=ApiTier.STANDARD)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Every business endpoint reads `client.account`; a staff client must have none,
            # so that no code path can make it act for a customer.
            models.CheckConstraint(
                condition=(
                    models.Q(kind=ApiClientKind.BUSINESS, account__isnull=False, owner__isnull=True)
                    | models.Q(kind=ApiClientKind.STAFF, account__isnull=True, owner__isnull=False)
                ),
                name="api_client_kind_holder",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def is_staff_client(self) -> bool:
        return self.kind == ApiClientKind.STAFF


class Parameter(models.Model):
    """A configurable figure an admin may change without a deploy."""

    key = models.CharField(max_length=80, unique=True)
    value = models.JSONField()
    description = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.key
