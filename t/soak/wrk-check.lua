-- wrk script for t/soak/run: count every response that is not a 200 with the
-- whole static file. wrk itself only reports "Non-2xx or 3xx responses" and
-- socket errors; this also catches a redirect or a short body.
--   wrk -s t/soak/wrk-check.lua URL -- EXPECTED_BODY_LENGTH
-- Prints "soak-wrk: responses N, not 200 N, wrong length N" at the end.

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	expected = tonumber(args[1])
	responses, bad_status, bad_length = 0, 0, 0
end

function response(status, headers, body)
	responses = responses + 1
	if status ~= 200 then
		bad_status = bad_status + 1
	elseif expected and #body ~= expected then
		bad_length = bad_length + 1
	end
end

function done(summary, latency, requests)
	local r, s, l = 0, 0, 0
	for _, t in ipairs(threads) do
		r = r + t:get("responses")
		s = s + t:get("bad_status")
		l = l + t:get("bad_length")
	end
	io.write(string.format("soak-wrk: responses %d, not 200 %d, wrong length %d\n", r, s, l))
end
