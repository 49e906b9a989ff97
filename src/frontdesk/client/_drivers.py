"""The two drivers that execute sans-IO operations: blocking and asyncio.

They know nothing about OAuth: they send requests, sleep, call callbacks and hold a lock.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from frontdesk.client._sansio import Call, Command, Exclusive, Op, Send, Sleep

T = TypeVar("T")


class SyncDriver:
    """Runs operations with an ``httpx.Client``."""

    def __init__(self, http: httpx.Client, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = http
        self.sleep = sleep
        self.lock = threading.RLock()

    def run(self, op: Op[T]) -> T:
        outcome: Any = None
        try:
            while True:
                command: Command = op.send(outcome)
                outcome = self._execute(command)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _execute(self, command: Command) -> Any:
        if isinstance(command, Send):
            try:
                return self.http.send(command.request)
            except httpx.TransportError as exc:
                return exc
        if isinstance(command, Sleep):
            self.sleep(command.seconds)
            return None
        if isinstance(command, Call):
            return command.callback(command.argument)
        if isinstance(command, Exclusive):
            with self.lock:
                return self.run(command.operation)
        raise TypeError(f"unknown command {command!r}")


class AsyncDriver:
    """Runs operations with an ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.http = http
        self.sleep = sleep
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:  # created lazily, inside the running loop
            self._lock = asyncio.Lock()
        return self._lock

    async def run(self, op: Op[T]) -> T:
        outcome: Any = None
        try:
            while True:
                command: Command = op.send(outcome)
                outcome = await self._execute(command)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _execute(self, command: Command) -> Any:
        if isinstance(command, Send):
            try:
                return await self.http.send(command.request)
            except httpx.TransportError as exc:
                return exc
        if isinstance(command, Sleep):
            await self.sleep(command.seconds)
            return None
        if isinstance(command, Call):
            result = command.callback(command.argument)
            return await result if inspect.isawaitable(result) else result
        if isinstance(command, Exclusive):
            async with self.lock:
                return await self.run(command.operation)
        raise TypeError(f"unknown command {command!r}")
