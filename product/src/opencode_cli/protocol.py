"""The platform's wire protocol, as the sample agent speaks it.

One JSON object ("envelope") per line in each direction:
    {"id": <int>, "verb": <str>, "body": {...}}            client -> agent
    {"id": <same>, "verb": <same>, "ok": true, "body": {...}} agent -> client
    {"id": <same>, "verb": <same>, "ok": false, "error": {"code", "message"}}

The first exchange is the handshake: verb "hello", the client's body lists
what it can render (`render`); the agent answers with its name, version,
protocol version, the verbs it can run and the render formats both share.
Unknown verbs are ignored (no answer) so newer clients work with older agents.
"""

from __future__ import annotations

import hashlib
import json
from typing import IO, Any

import jsonpointer

from ._version import __version__

PROTOCOL = 1
VERBS = ("plan", "apply", "observe", "revert", "log")
RENDERS = ("text", "markdown", "diff")


class Agent:
    def __init__(self) -> None:
        self.greeted = False
        self.plans: dict[str, list[str]] = {}
        self.applied: list[str] = []
        self.journal: list[dict[str, Any]] = []

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        verb = message.get("verb")
        body = message.get("body") or {}
        if not isinstance(body, dict):
            return self._error(message, "bad-body", "body must be a JSON object")
        if verb == "hello":
            return self._hello(message, body)
        if verb not in VERBS:
            return None
        if not self.greeted:
            return self._error(message, "no-handshake", "send hello first")
        self.journal.append({"seq": len(self.journal) + 1, "verb": verb})
        handler = getattr(self, f"_{verb}")
        result: dict[str, Any] = handler(message, body)
        return result

    def _hello(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        self.greeted = True
        wanted = body.get("render", [])
        shared = [r for r in RENDERS if isinstance(wanted, list) and r in wanted]
        return self._ok(
            message,
            {
                "agent": "opencode",
                "version": __version__,
                "protocol": PROTOCOL,
                "verbs": list(VERBS),
                "render": shared or ["text"],
            },
        )

    def _plan(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        goal = str(body.get("goal", ""))
        plan_id = "p-" + hashlib.sha256(goal.encode()).hexdigest()[:12]
        steps = [f"read: {goal}", f"edit: {goal}", "test"]
        self.plans[plan_id] = steps
        return self._ok(message, {"plan": plan_id, "steps": steps})

    def _apply(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        plan_id = body.get("plan")
        if plan_id not in self.plans:
            return self._error(message, "unknown-plan", f"no plan {plan_id!r}")
        self.applied.append(str(plan_id))
        return self._ok(message, {"plan": plan_id, "applied": len(self.plans[plan_id])})

    def _observe(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        state = {"plans": sorted(self.plans), "applied": list(self.applied)}
        # An optional RFC 6901 pointer selects one part of the state ("/applied/0").
        pointer = body.get("pointer")
        if pointer is None:
            return self._ok(message, state)
        try:
            return self._ok(message, {"pointer": pointer, "value": jsonpointer.resolve_pointer(state, str(pointer))})
        except jsonpointer.JsonPointerException as exc:
            return self._error(message, "bad-pointer", str(exc))

    def _revert(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        plan_id = body.get("plan")
        if plan_id not in self.applied:
            return self._error(message, "not-applied", f"plan {plan_id!r} is not applied")
        self.applied.remove(str(plan_id))
        return self._ok(message, {"plan": plan_id, "reverted": True})

    def _log(self, message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return self._ok(message, {"entries": list(self.journal)})

    @staticmethod
    def _ok(message: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return {"id": message.get("id"), "verb": message.get("verb"), "ok": True, "body": body}

    @staticmethod
    def _error(message: dict[str, Any], code: str, text: str) -> dict[str, Any]:
        return {
            "id": message.get("id"),
            "verb": message.get("verb"),
            "ok": False,
            "error": {"code": code, "message": text},
        }


def serve(stdin: IO[str], stdout: IO[str]) -> int:
    agent = Agent()
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as exc:
            reply: dict[str, Any] | None = {
                "id": None,
                "verb": None,
                "ok": False,
                "error": {"code": "bad-json", "message": str(exc)},
            }
        else:
            reply = agent.handle(message) if isinstance(message, dict) else None
        if reply is not None:
            stdout.write(json.dumps(reply, sort_keys=True) + "\n")
            stdout.flush()
    return 0
