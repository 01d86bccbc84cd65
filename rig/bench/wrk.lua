-- wrk's script for the rig's paced and spread runs.
-- WRK_GAP_MS: milliseconds between a response and the connection's next request, so the offered rate
-- is about connections * 1000 / (gap + latency) per second, not as fast as answers come.
-- WRK_TARGETS: host:port,... to load instead of the URL's address, thread i on target i (wrk gives a
-- thread's connections one address), so clients spread load over every instance with no proxy between.
local gap = tonumber(os.getenv("WRK_GAP_MS")) or 0

local targets = {}
for host, port in string.gmatch(os.getenv("WRK_TARGETS") or "", "([^,:]+):(%d+)") do
    table.insert(targets, wrk.lookup(host, port)[1])
end

local threads = 0
function setup(thread)
    if #targets > 0 then
        thread.addr = targets[threads % #targets + 1]
    end
    threads = threads + 1
end

function delay()
    return gap
end
