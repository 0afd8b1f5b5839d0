/**
 * What Tower pods read on a Kubernetes target:
 * - `settings.py` (mounted at /etc/tower/settings.py): the database, the broker, the cache and the
 *   instance identity, taking every address from the environment and every password from
 *   environment variables fed by Secrets, so the ConfigMap itself holds no secret;
 * - the environment: where the RabbitMQ and stolon Services are (ConfigMap), the passwords
 *   (Secrets);
 * - the SQL the database Job runs to create Tower's role and database in stolon.
 *
 * Tower 3.3 / AWX 2.x images run Python 2.7, later ones Python 3: the settings work in both.
 */
import type { TowerOnKubernetes } from "./k8s-topology";

/** Non-secret environment of every Tower pod, from the settings ConfigMap. */
export function towerEnv(t: TowerOnKubernetes): Record<string, string> {
  const b = t.broker.rabbitmq;
  return {
    DATABASE_HOST: t.database.host,
    DATABASE_PORT: String(t.database.port),
    DATABASE_NAME: t.database.name,
    DATABASE_USER: t.database.user,
    RABBITMQ_HOST: t.broker.host,
    RABBITMQ_PORT: String(b.port),
    RABBITMQ_VHOST: b.vhost,
    RABBITMQ_USER: b.username,
    // The memcached sidecar of the same pod.
    MEMCACHED_HOST: "127.0.0.1",
    MEMCACHED_PORT: "11211",
    AWX_ADMIN_USER: "admin",
  };
}

export const SETTINGS_PY_KEY = "settings.py";
export const SETTINGS_PY_PATH = "/etc/tower/settings.py";
export const SECRET_KEY_PATH = "/etc/tower/SECRET_KEY";

/** /etc/tower/settings.py of every Tower pod. Reads the environment only; no secret inside. */
export function settingsPy(_t: TowerOnKubernetes): string {
  return [
    "# Managed by haforge (Kubernetes target). Addresses come from the settings ConfigMap, passwords",
    "# from Secrets, both through the environment: this file holds no secret.",
    "import os",
    "import socket",
    "try:",
    "    from urllib.parse import quote",
    "except ImportError:  # Python 2 (Tower 3.3 images)",
    "    from urllib import quote",
    "",
    "",
    "def _env(name):",
    "    return os.environ[name]",
    "",
    "",
    "# Each pod registers as its own instance: its host name is unique and AWX deprovisions pods",
    "# that go away.",
    "CLUSTER_HOST_ID = socket.gethostname()",
    "AWX_AUTO_DEPROVISION_INSTANCES = True",
    "# Job isolation (bubblewrap) needs privileges these pods do not get.",
    "AWX_PROOT_ENABLED = False",
    "",
    `SECRET_KEY = open(${JSON.stringify(SECRET_KEY_PATH)}, "rb").read().strip()`,
    "ALLOWED_HOSTS = ['*']",
    "USE_X_FORWARDED_PORT = True",
    "REMOTE_HOST_HEADERS = ['HTTP_X_FORWARDED_FOR']",
    "",
    "# The stolon proxy Service (or the external database): the proxies only ever forward to the",
    "# current master.",
    "DATABASES = {",
    "    'default': {",
    "        'ATOMIC_REQUESTS': True,",
    "        'ENGINE': 'django.db.backends.postgresql',",
    "        'NAME': _env('DATABASE_NAME'),",
    "        'USER': _env('DATABASE_USER'),",
    "        'PASSWORD': _env('DATABASE_PASSWORD'),",
    "        'HOST': _env('DATABASE_HOST'),",
    "        'PORT': _env('DATABASE_PORT'),",
    "    }",
    "}",
    "",
    "# The RabbitMQ client Service. User, password and vhost are percent-encoded (kombu unquotes",
    "# them), so a vhost of '/' becomes '%2F'.",
    "BROKER_URL = 'amqp://{}:{}@{}:{}/{}'.format(",
    "    quote(_env('RABBITMQ_USER'), safe=''),",
    "    quote(_env('RABBITMQ_PASSWORD'), safe=''),",
    "    _env('RABBITMQ_HOST'),",
    "    _env('RABBITMQ_PORT'),",
    "    quote(_env('RABBITMQ_VHOST'), safe=''),",
    ")",
    "try:",
    "    CHANNEL_LAYERS['default']['CONFIG']['url'] = BROKER_URL  # noqa: F821",
    "except (NameError, KeyError, TypeError):",
    "    pass",
    "",
    "CACHES = {",
    "    'default': {",
    "        'BACKEND': 'django.core.cache.backends.memcached.MemcachedCache',",
    "        'LOCATION': '{}:{}'.format(_env('MEMCACHED_HOST'), _env('MEMCACHED_PORT')),",
    "    },",
    "    'ephemeral': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'},",
    "}",
    "",
  ].join("\n");
}

/**
 * Creates Tower's role and database, idempotently: run by psql with the variables `dbuser`,
 * `dbname` and `dbpass` set (-v). `format(%I, %L)` quotes identifiers and literals, so no name or
 * password can break out of its statement; `\gexec` runs each generated statement on its own
 * (CREATE DATABASE cannot run inside a transaction block). Re-running changes nothing but the
 * password (rotations go through here too).
 * https://www.postgresql.org/docs/15/app-psql.html (\gexec, SQL interpolation)
 */
export const TOWER_DB_BOOTSTRAP_SQL = [
  "SELECT format('CREATE ROLE %I LOGIN', :'dbuser') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'dbuser')",
  "\\gexec",
  "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'dbuser', :'dbpass')",
  "\\gexec",
  "SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'dbname', :'dbuser', 'UTF8') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'dbname')",
  "\\gexec",
  "",
].join("\n");

/** Waits (bounded) for the stolon proxy to accept connections, then runs the SQL above. */
export function dbBootstrapScript(): string {
  return [
    "set -eu",
    'i=0; until pg_isready -q -h "$PGHOST" -p "$PGPORT"; do',
    '  i=$((i+1)); if [ "$i" -ge 60 ]; then echo "postgres at $PGHOST:$PGPORT not ready after 5 minutes" >&2; exit 1; fi',
    "  sleep 5",
    "done",
    `psql -X -q -v ON_ERROR_STOP=1 -v dbuser="$DB_USER" -v dbname="$DB_NAME" -v dbpass="$DB_PASSWORD" -d postgres <<'SQL'`,
    TOWER_DB_BOOTSTRAP_SQL.trimEnd(),
    "SQL",
  ].join("\n");
}
