"""Asks mcpcol's MCP endpoint (/mcp) everything, with the official MCP Python SDK.

    mcp_query.py URL TOOL_ERRORS_TOOL SESSION_ID

Initializes a Streamable HTTP session, lists the tools, calls each one, and prints one
JSON object: {"server": ..., "protocol": ..., "tools": {name: {description, schema}},
"calls": {name: {"is_error": bool, "result": structured content or text}}}.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, tool: str, session_id: str) -> None:
    async with streamable_http_client(url) as streams:
        async with ClientSession(*streams[:2]) as session:
            init = await session.initialize()
            listed = await session.list_tools()
            out = {
                "server": init.server_info.name,
                "protocol": init.protocol_version,
                "tools": {t.name: {"description": t.description, "schema": t.input_schema} for t in listed.tools},
                "calls": {},
            }
            calls = {
                "list_servers": {},
                "top_tools": {"by": "errors", "window": "1h"},
                "tool_errors": {"tool": tool},
                "session_timeline": {"session_id": session_id},
                "collector_status": {},
                "session_timeline_missing": None,
            }
            for name, args in calls.items():
                if args is None:
                    result = await session.call_tool("session_timeline", {"session_id": "no-such-session"})
                else:
                    result = await session.call_tool(name, args)
                structured = getattr(result, "structured_content", None)
                text = "".join(getattr(c, "text", "") for c in result.content)
                out["calls"][name] = {"is_error": bool(result.is_error), "result": structured if structured is not None else text}
            print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
