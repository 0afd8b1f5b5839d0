# Managed by haforge. The Tower database.
# Same file name as Tower's installer writes, so this one replaces it rather than racing it.
DATABASES = {
    "default": {
        "ATOMIC_REQUESTS": True,
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "awx",
        "USER": "awx",
        "PASSWORD": "<secret:value h:fe4946d5>",
        "HOST": "192.0.2.20",
        "PORT": "5432",
    }
}
