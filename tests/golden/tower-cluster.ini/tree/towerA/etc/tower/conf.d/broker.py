# Managed by haforge. The message broker this instance uses (its local RabbitMQ node when it
# runs one). Holds the RabbitMQ password.
BROKER_URL = "amqp://tower:<secret:value h:ee3b9353>@10.1.0.11:5672/tower"

# Tower 3.x builds its channel layer from BROKER_URL when it reads its defaults, before this
# file; keep the two pointing at the same broker.
try:
    CHANNEL_LAYERS["default"]["CONFIG"]["url"] = BROKER_URL  # noqa: F821
except (NameError, KeyError, TypeError):
    pass
