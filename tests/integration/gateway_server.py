"""An in-process gateway on a real broker, for a test scenario that talks to it over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from streams.gateway.server import RawProducer, create_gateway
from streams.settings import Settings


def serve_gateway(
    settings: Settings, scenario: Callable[[ClientSession, str], Awaitable[None]]
) -> None:
    """Run ``scenario(session, base_url)`` against a gateway started for it, then stop it."""

    async def main() -> None:
        producer = RawProducer(settings)
        server = TestServer(create_gateway(settings, producer), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as session:
                await scenario(session, str(server.make_url("")))
        finally:
            await server.close()
            producer.close(2)

    asyncio.run(main())
