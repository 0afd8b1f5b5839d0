# Managed by haforge. The message broker this instance uses (its local RabbitMQ node when it
# runs one). Holds the RabbitMQ password.
BROKER_URL = "amqp://tower:<secret:value h:fe4946d5>@192.0.2.10:5672/tower"

# Tower 3.x builds its channel layer from BROKER_URL when it reads its defaults, before this
# file; keep the two pointing at the same broker.
try:
    CHANNEL_LAYERS["default"]["CONFIG"]["url"] = BROKER_URL  # noqa: F821
except (NameError, KeyError, TypeError):
    pass
