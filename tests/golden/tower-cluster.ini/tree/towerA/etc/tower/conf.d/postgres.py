# Managed by haforge. The Tower database.
# Same file name as Tower's installer writes, so this one replaces it rather than racing it.
DATABASES = {
    "default": {
        "ATOMIC_REQUESTS": True,
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "awx",
        "USER": "awx",
        "PASSWORD": "<secret:value h:ee3b9353>",
        "HOST": "203.0.113.30",
        "PORT": "5432",
    }
}
