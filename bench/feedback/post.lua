-- post.lua - wrk script for bench/feedback/run.sh: POST a ~300-byte feedback
-- payload, the original's {task_id, event_type, data, timestamp, priority}.
-- No webhook-id and no event_id, so `ambient feedback` stores every request
-- as a new event (nothing is deduplicated).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"task_id":"7f3c2a10-5b8e-4c1d-9a2f-0e6b3d4c5a10",' ..
  '"event_type":"web_content_change",' ..
  '"data":{"url":"https://example.com/pricing","keywords_found":["price"],' ..
  '"content":"The price of the plan you watch dropped from 49 to 39 USD per month.","added_count":1},' ..
  '"timestamp":"2026-11-25T00:00:00.000000","priority":3}'

