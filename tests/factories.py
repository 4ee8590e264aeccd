import binascii

import factory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import domain
from accounts.models import (
    Account,
    AccountMembership,
    AccountType,
    AreaClass,
    MemberRole,
    Premise,
    Role,
    User,
)

PASSWORD = "Correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.fr")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    role = Role.CUSTOMER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def persist(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    number = factory.LazyFunction(domain.account_number_new)
    type = AccountType.RESIDENTIAL
    name = factory.Faker("name", locale="fr_FR")
    billing_address = factory.Faker("address", locale="fr_FR")
    created_at = factory.LazyFunction(timezone.now)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountMembership

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)
    role = MemberRole.HOLDER


class PremiseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Premise

    account = factory.SubFactory(AccountFactory)
    address = factory.Faker("street_address", locale="fr_FR")
    postcode = factory.Faker("postcode", locale="fr_FR")
    city = factory.Faker("city", locale="fr_FR")
    area_class = AreaClass.URBAN


TOTP_KEY_HEX = binascii.hexlify(b"powernext-test-key!!").decode()


def add_totp(user: User, key_hex: str = TOTP_KEY_HEX) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="default", key=key_hex, confirmed=True)


def totp_now(device: TOTPDevice) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
