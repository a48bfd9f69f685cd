"""Tasks belong to whoever submitted them: two people on one server (one store) never see
each other's tasks. (One person's token and cookie requests being one person is in
test_server.py, which runs the default identity provider.)"""

from __future__ import annotations

import httpx
import pytest
import websockets
from jupyter_server.auth.identity import IdentityProvider, User
from traitlets.config import Config

from tests.test_server import (
    finished,
    get,
    start,
    start_model,
    ws_messages,
    ws_url,
)

ALICE = {"Authorization": "token alice-secret"}
BOB = {"Authorization": "token bob-secret"}


class TwoPeople(IdentityProvider):
    """A deployment where each person has a token of their own (as behind JupyterHub)."""

    def get_user(self, handler):
        name = {"token alice-secret": "alice", "token bob-secret": "bob"}.get(
            handler.request.headers.get("Authorization", "")
        )
        if name is None:
            return None
        handler._token_authenticated = True  # a token request: no XSRF check, as usual
        return User(name)


@pytest.fixture
def jp_server_config(vibedraw_config):
    """conftest's server, with two people's tokens instead of one server token."""
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"vibedraw_widget": True},
                "allow_unauthenticated_access": False,
                "identity_provider_class": TwoPeople,
            },
            "VibeDraw": vibedraw_config,
        }
    )


ROUTES = ["task/{id}", "subscribe/{id}", "models/{id}.glb"]


async def test_another_person_gets_404_on_every_route_of_a_task(api_url, engine):
    task_id = await start_model(api_url, ALICE)
    await finished(engine, task_id)
    assert (await engine.get(task_id)).submitter == "user:alice"
    unknown = "0b7c3f9e-4a51-4d0e-9b9e-3f2d6c1a2b3c"
    for route in ROUTES:
        mine = await get(api_url + route.format(id=task_id), ALICE)
        assert mine.status_code == 200, (route, mine.text)
        theirs = await get(api_url + route.format(id=task_id), BOB)
        nobody = await get(api_url + route.format(id=unknown), BOB)
        assert theirs.status_code == nobody.status_code == 404, (route, theirs.text)
        # The same answer as for an id that does not exist: nothing about the task leaks.
        assert theirs.json()["message"] == nobody.json()["message"].replace(unknown, task_id)
    async with httpx.AsyncClient(headers=BOB) as client:
        cancel = await client.delete(f"{api_url}task/{task_id}")
    assert cancel.status_code == 404
    with pytest.raises(websockets.InvalidStatus) as refused:
        await ws_messages(ws_url(api_url, task_id), BOB)
    assert refused.value.response.status_code == 404
    assert (await ws_messages(ws_url(api_url, task_id), ALICE))[-1]["status"] == "completed"


async def test_another_person_cannot_cancel_a_running_task(api_url, engine):
    task_id = await start(api_url, ALICE, provider="hanging")
    async with httpx.AsyncClient(headers=BOB) as client:
        assert (await client.delete(f"{api_url}task/{task_id}")).status_code == 404
        assert (await engine.get(task_id)).status == "running"
        async with httpx.AsyncClient(headers=ALICE) as owner:
            cancelled = await owner.delete(f"{api_url}task/{task_id}")
    assert cancelled.json()["status"] == "cancelled"
