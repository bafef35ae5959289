-- create.lua - wrk script for bench/cluster/run.sh: MCP create_background_task
-- calls in an MCP session, as clients of a cluster make them.
--
--   wrk -t1 -c16 -d5s -s create.lua http://127.0.0.1:PORT/mcp
--
-- Each wrk thread opens one session: its first request is `initialize`; once
-- the answer brings an Mcp-Session-Id, the thread sends
-- notifications/initialized and then only tools/call create_background_task
-- (a daily schedule of user "bench-load": one task_created event per call,
-- nothing due) with that session id.  Connections that start before the id
-- is known send an initialize of their own (a few per thread; they count as
-- requests like the others).
--
-- Every response is checked: a status other than 200/202 counts as non200,
-- a 200 carrying a JSON-RPC error or an isError result as a tool error.
-- done() prints one grep-able line, the same as bench/mcp_http/call.lua:
--   RESULT requests=N seconds=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D
--          non200=N tool_errors=N socket_errors=N checked=1
-- followed by a few examples of failures on lines starting with SAMPLE.

local threads = {}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
	table.insert(threads, thread)
end

local sid = nil
local sent_initialized = false
local seq = 0
non200 = 0
tool_errors = 0
samples = ""

local init_body = '{"jsonrpc":"2.0","id":0,"method":"initialize","params":' ..
	'{"protocolVersion":"2025-11-25","capabilities":{},' ..
	'"clientInfo":{"name":"bench-cluster","version":"1"}}}'

local function headers()
	local h = {["Content-Type"] = "application/json",
		   ["Accept"] = "application/json, text/event-stream"}
	if sid then
		h["Mcp-Session-Id"] = sid
		h["MCP-Protocol-Version"] = "2025-11-25"
	end
	return h
end

local function note(what)
	if #samples < 600 then
		samples = samples .. "SAMPLE " .. what:sub(1, 280):gsub("\n", " ") .. "\n"
	end
end

function request()
	if not sid then
		return wrk.format("POST", nil, headers(), init_body)
	end
	if not sent_initialized then
		sent_initialized = true
		return wrk.format("POST", nil, headers(),
			'{"jsonrpc":"2.0","method":"notifications/initialized"}')
	end
	seq = seq + 1
	local body = string.format('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":' ..
		'{"name":"create_background_task","arguments":{"task_type":"schedule",' ..
		'"description":"cluster bench task %d-%d","user_id":"bench-load","config":' ..
		'{"type":"daily","hour":9,"minute":0,"message":"Check project status"}}}}',
		seq, tid, seq)
	return wrk.format("POST", nil, headers(), body)
end

function response(status, hdrs, body)
	if not sid then
		for k, v in pairs(hdrs) do
			if k:lower() == "mcp-session-id" then
				sid = v
			end
		end
	end
	if status ~= 200 and status ~= 202 then
		non200 = non200 + 1
		note("HTTP " .. status .. ": " .. (body or ""))
	elseif body:find('"isError":true', 1, true) or body:find('"error":{', 1, true) then
		tool_errors = tool_errors + 1
		note("error body: " .. body)
	end
end

function done(summary, latency, requests)
	local bad, errs, notes = 0, 0, ""
	for _, t in ipairs(threads) do
		bad = bad + (t:get("non200") or 0)
		errs = errs + (t:get("tool_errors") or 0)
		notes = notes .. (t:get("samples") or "")
	end
	local e = summary.errors
	local seconds = summary.duration / 1e6
	io.write(string.format("RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
		"p99_ms=%.3f max_ms=%.3f non200=%d tool_errors=%d socket_errors=%d checked=1\n",
		summary.requests, seconds, summary.requests / seconds,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000, bad, errs,
		e.connect + e.read + e.write + e.timeout))
	if notes ~= "" then
		io.write(notes)
	end
end
