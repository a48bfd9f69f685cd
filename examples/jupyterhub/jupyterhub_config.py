"""JupyterHub for a class: every student's server runs vibedraw against one shared Redis,
and `vibedraw worker` processes (on this machine or others) run everyone's tasks.

    redis-server --port 6379 --appendonly yes --appendfsync everysec
    vibedraw worker --store redis://127.0.0.1:6379/0 --concurrency 2     # one or more
    jupyterhub -f examples/jupyterhub/jupyterhub_config.py

Every setting below can be changed through the environment (the tests do that):

    VIBEDRAW_STORE_URL    redis://127.0.0.1:6379/0   the Redis every server and worker uses
    VIBEDRAW_HUB_USERS    alice,bob                  who may log in
    VIBEDRAW_HUB_PASSWORD (unset: any password)      the shared password (DummyAuthenticator)
    VIBEDRAW_HUB_PORT     8000                       where students open the hub
    VIBEDRAW_HUB_HOMES    /tmp/{username}            each student's working directory
    VIBEDRAW_HUB_API_TOKEN (unset)                   a token for a "teacher" admin service

DummyAuthenticator and SimpleLocalProcessSpawner keep this example self-contained (no
system accounts): every student's server runs as the hub's own Unix user, with its files
under /tmp/<name>. For a real class, swap in your institution's authenticator (OAuth,
LDAP …) and a spawner that isolates users (LocalProcessSpawner with system users,
DockerSpawner, KubeSpawner); the vibedraw part below stays the same.
"""

import os

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

store_url = os.environ.get("VIBEDRAW_STORE_URL", "redis://127.0.0.1:6379/0")
users = [u for u in os.environ.get("VIBEDRAW_HUB_USERS", "alice,bob").split(",") if u]

# -- who logs in ---------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = set(users)
if os.environ.get("VIBEDRAW_HUB_PASSWORD"):
    c.DummyAuthenticator.password = os.environ["VIBEDRAW_HUB_PASSWORD"]

# -- where the hub listens -----------------------------------------------------------------
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("VIBEDRAW_HUB_PORT", "8000"))
if os.environ.get("VIBEDRAW_HUB_API_PORT"):  # the hub's internal API (default 8081)
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['VIBEDRAW_HUB_API_PORT']}"
if os.environ.get("VIBEDRAW_PROXY_API_PORT"):  # configurable-http-proxy's API (default 8001)
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['VIBEDRAW_PROXY_API_PORT']}"

# -- each student's server: the vibedraw extension on the shared Redis ----------------------
c.JupyterHub.spawner_class = "simple"  # SimpleLocalProcessSpawner: no system users needed
c.SimpleLocalProcessSpawner.home_dir_template = os.environ.get(
    "VIBEDRAW_HUB_HOMES", "/tmp/{username}"
)
c.Spawner.args = [
    f"--VibeDraw.store_url={store_url}",
    # The workers run the tasks; a student's server only records, queues and streams them.
    "--VibeDraw.run_tasks=False",
    # Keep equal to the workers' --retention (seconds a finished task is kept).
    "--VibeDraw.retention_seconds=3600",
]
if os.geteuid() == 0:  # a container running as root
    c.Spawner.args.append("--allow-root")
c.Spawner.start_timeout = c.Spawner.http_timeout = 120  # a room logging in at once is slow

# -- optional: a teacher's admin token (create students' tokens, start their servers) ------
if os.environ.get("VIBEDRAW_HUB_API_TOKEN"):
    c.JupyterHub.services = [{"name": "teacher", "api_token": os.environ["VIBEDRAW_HUB_API_TOKEN"]}]
    c.JupyterHub.load_roles = [{"name": "admin", "services": ["teacher"]}]
