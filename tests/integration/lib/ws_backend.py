"""A WebSocket echo server behind the nginx origin (location /ws), on loopback.

python3-websockets (Debian's 10.4) on an asyncio loop of its own thread. Each text or binary
message comes back as "echo:" + message (bytes for binary), so that a test can tell which side
wrote what. permessage-deflate is on (the library's default), as it is for most real servers:
a browser offers it and a server that accepts it compresses every frame.
"""
import asyncio
import threading

from .env import import_debian_module

websockets = import_debian_module("websockets")


async def _echo(ws, path=None):
    try:
        async for message in ws:
            if isinstance(message, bytes):
                await ws.send(b"echo:" + message)
            else:
                await ws.send("echo:" + message)
    except websockets.ConnectionClosed:
        pass


class WebSocketEcho:
    def __init__(self, host="127.0.0.1"):
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.port = None

        async def serve():
            self.server = await websockets.serve(_echo, host, 0, max_size=16 << 20)
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()

        self.thread = threading.Thread(target=self._run, args=(serve,), daemon=True)
        self.thread.start()
        if not started.wait(10.0):
            raise RuntimeError("websocket echo server did not start")

    def _run(self, serve):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=5.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5.0)
