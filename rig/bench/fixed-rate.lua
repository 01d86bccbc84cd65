-- Paces every wrk connection: WRK_GAP_MS milliseconds between a response and the next request, so the
-- offered rate is about connections * 1000 / (gap + latency) per second, not as fast as answers come.
local gap = tonumber(os.getenv("WRK_GAP_MS")) or 0

function delay()
    return gap
end
