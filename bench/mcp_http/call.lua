-- call.lua - wrk script for bench/mcp_http: one MCP tools/call per request,
-- POSTed to the Streamable HTTP endpoint without a session (the servers run
-- stateless), asking for a JSON response.
--
--   wrk -t2 -c50 -d10s -s call.lua http://127.0.0.1:PORT/mcp -- list [check]
--   wrk -t2 -c50 -d10s -s call.lua http://127.0.0.1:PORT/mcp -- create [check]
--
-- list:   list_background_tasks {} (the default user's tasks)
-- create: create_background_task, a schedule task of user "bench-load" (so the
--         default user's list keeps its tasks) whose description differs in
--         every request (thread number and a per-thread counter)
--
-- Without "check", wrk counts the responses whose status is 400 or more
-- (non200 below) and never hands a body to Lua.  With "check", every
-- response is looked at: a status other than 200 counts as non200, a 200
-- whose body carries a JSON-RPC error or an isError result counts as a tool
-- error.  Checking costs wrk a lot on big bodies (on the 2-core development
-- machine it caps wrk at ~10,000-15,000 responses/s of 80 kB, against ~50,000
-- without it), so run.sh checks during the warm-up of list and during the
-- measured runs of create.
--
-- done() prints one grep-able line:
--   RESULT requests=N seconds=S rps=R p50_ms=A p90_ms=B p99_ms=C max_ms=D
--          non200=N tool_errors=N socket_errors=N checked=0|1
-- followed by the first few non-200 statuses and error bodies, if any, on
-- lines starting with SAMPLE.

local threads = {}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
	table.insert(threads, thread)
end

local mode = "list"
local seq = 0
local list_body
-- globals: read from each thread's Lua state by done()
checked = false
non200 = 0
tool_errors = 0
samples = ""

local function note(what)
	-- keep a few examples per thread for done()
	if #samples < 600 then
		samples = samples .. "SAMPLE " .. what:sub(1, 280):gsub("\n", " ") .. "\n"
	end
end

local function check(status, headers, body)
	if status ~= 200 then
		non200 = non200 + 1
		note("HTTP " .. status .. ": " .. (body or ""))
	elseif body:find('"isError":true', 1, true) or body:find('"error":{', 1, true) then
		tool_errors = tool_errors + 1
		note("error body: " .. body)
	end
end

function init(args)
	mode = args[1] or "list"
	if mode ~= "list" and mode ~= "create" then
		io.stderr:write("call.lua: mode must be list or create, not " .. mode .. "\n")
		os.exit(2)
	end
	-- wrk hands bodies to Lua only when the script has a response function
	checked = args[2] == "check"
	if checked then
		response = check
	end
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = "application/json, text/event-stream"
	wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
	list_body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' ..
		'{"name":"list_background_tasks","arguments":{}}}'
	wrk.body = list_body
end

function request()
	if mode == "list" then
		return wrk.format(nil, nil, nil, list_body)
	end
	seq = seq + 1
	local body = string.format('{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":' ..
		'{"name":"create_background_task","arguments":{"task_type":"schedule",' ..
		'"description":"bench task %d-%d","user_id":"bench-load","config":{"type":"daily",' ..
		'"hour":9,"minute":0,"message":"Check project status"}}}}', seq, tid, seq)
	return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
	local bad, errs, notes, was_checked = 0, 0, "", 0
	for _, t in ipairs(threads) do
		bad = bad + (t:get("non200") or 0)
		errs = errs + (t:get("tool_errors") or 0)
		notes = notes .. (t:get("samples") or "")
		if t:get("checked") then
			was_checked = 1
		end
	end
	local e = summary.errors
	if was_checked == 0 then
		bad = e.status
	end
	local seconds = summary.duration / 1e6
	io.write(string.format("RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
		"p99_ms=%.3f max_ms=%.3f non200=%d tool_errors=%d socket_errors=%d checked=%d\n",
		summary.requests, seconds, summary.requests / seconds,
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000, bad, errs,
		e.connect + e.read + e.write + e.timeout, was_checked))
	if notes ~= "" then
		io.write(notes)
	end
end
