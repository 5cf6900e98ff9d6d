-- wrk script: realistic pixel hits (GET /p.gif) for the collector/bare ratio in BENCHMARKS.md.
-- 2000 requests are built once per thread (page URLs with utm parameters, referrers, user
-- agents, client IPs in X-Forwarded-For) and sent round-robin, so the per-request cost in wrk
-- is the same against both servers. WRK_SITE sets the `s` parameter (the run id counted in
-- ClickHouse afterwards).
local site = os.getenv("WRK_SITE") or "wrk-bench"
local hosts = {"https://www.example.com", "https://shop.example.com", "https://docs.example.org"}
local paths = {"/", "/pricing", "/features", "/blog", "/blog/clickhouse-at-scale", "/products/42",
  "/signup", "/thank-you", "/contact", "/docs/getting-started"}
local utms = {"", "", "?utm_source=newsletter&utm_medium=email&utm_campaign=spring-launch",
  "?utm_source=google&utm_medium=cpc&utm_campaign=brand", "?utm_source=linkedin&utm_medium=social"}
local refs = {"", "https://www.google.com/", "https://t.co/abc123", "https://www.linkedin.com/feed/",
  "https://www.example.com/blog", "https://duckduckgo.com/"}
local uas = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}
local octets = {2, 5, 31, 46, 62, 77, 81, 82, 85, 89, 91, 93, 95, 151, 176, 185, 193, 212, 213, 217, 24, 66, 73, 98}

local function enc(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function pick(t) return t[math.random(#t)] end

local reqs = {}
local n = 0

function init(args)
  math.randomseed(os.time() + math.random(1000000))
  for i = 1, 2000 do
    local u = pick(hosts) .. pick(paths) .. pick(utms)
    local q = "/p.gif?s=" .. site .. "&e=pageview&u=" .. enc(u) .. "&r=" .. enc(pick(refs))
      .. "&t=Home&sw=1920&sh=1080&lang=en-US"
    local ip = pick(octets) .. "." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "." .. math.random(1, 254)
    reqs[i] = wrk.format("GET", q, {["User-Agent"] = pick(uas), ["X-Forwarded-For"] = ip})
  end
end

function request()
  n = n % #reqs + 1
  return reqs[n]
end
