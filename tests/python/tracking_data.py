# Deterministic generator of tracking data for the tests: three days of hits on two sites
# (sessions, pings, events, outbound links, downloads, bots, campaigns, mailing opens and clicks
# by humans and machines, replayed duplicates), persons of five accounts, mailings, sends,
# consents, identity links, a goal and a funnel.
import json
import random
import uuid
from datetime import datetime, timedelta, timezone

# Generated data covers [DATA_FROM, DATA_TO): three days, fixed so every run sees the same rows.
DATA_FROM = datetime(2026, 1, 5, tzinfo=timezone.utc)
DATA_TO = DATA_FROM + timedelta(days=3)

SITES = ["shop.example", "blog.example"]
PATHS = ["/", "/pricing", "/features", "/blog/a", "/blog/b", "/signup", "/thank-you", "/docs"]
REFERRERS = [("", "", "direct"), ("https://www.google.com/", "www.google.com", "search"),
             ("https://t.co/x", "t.co", "social"), ("https://news.example/", "news.example", "other"),
             ("https://mail.example/", "mail.example", "email")]
GEO = [("DE", "DE-BE", "Berlin"), ("FR", "FR-IDF", "Paris"), ("US", "US-NY", "New York"),
       ("GB", "GB-ENG", "London")]
DEVICES = [("Chrome", "120", "Windows", "desktop"), ("Safari", "17", "iOS", "mobile"),
           ("Firefox", "121", "Linux", "desktop"), ("Safari", "17", "iPadOS", "tablet")]
CAMPAIGNS = [("", "", ""), ("newsletter", "email", "january"), ("google", "cpc", "brand")]


def hit(rng, at, **kw):
    row = dict(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        received_at=at, ts_ms=int(at.timestamp() * 1000), site=SITES[0], type="pageview",
        url="", host="", path="/", title="", referrer="", referrer_host="", referrer_kind="direct",
        utm_source="", utm_medium="", utm_campaign="", utm_term="", utm_content="",
        country="", region="", city="", browser="", browser_version="", os="", device="desktop",
        is_bot=0, bot_reason="", ip="192.0.2.0", visitor_id="", person_id="", account_id="",
        consent=0, mailing_id="", link_id="", verdict="", event_name="", props="", client_id="",
        screen_w=1280, screen_h=800, lang="en", replica="collector-0")
    row.update(kw)
    row["host"] = row["host"] or row["site"]
    row["url"] = row["url"] or f"https://{row['host']}{row['path']}"
    return row


def generate(seed=6, visitors=300):
    """Three days of traffic on two sites: sessions with pageviews, pings, events, outbound
    links and downloads, bots, campaigns, mailing opens and clicks (human and machine), persons
    of five accounts, and a few replayed duplicates (same event_id) as the spool would make."""
    rng = random.Random(seed)
    accounts = [dict(account_id=f"acc{i}", name=f"Account {i}", domain=f"a{i}.example",
                     attributes="{}", updated_at=DATA_FROM, version=1) for i in range(1, 6)]
    persons = [dict(person_id=f"p{i:02}", account_id=f"acc{1 + i % 5}",
                    email=f"p{i:02}@a{1 + i % 5}.example", attributes="{}",
                    updated_at=DATA_FROM, version=1) for i in range(1, 41)]
    mailings = [dict(mailing_id=m, name=f"Mailing {m}", subject="Hello", sent_at=DATA_FROM,
                     attributes="{}", version=1) for m in ("m1", "m2")]
    sends, consents, links, hits = [], [], [], []
    for p in persons:
        consents.append(dict(consent_id=f"c-{p['person_id']}", person_id=p["person_id"],
                             purpose="tracking", granted=1, source="crm", text_version="v1",
                             at=DATA_FROM, recorded_by="test", recorded_at=DATA_FROM))
    for m in mailings:
        for p in persons[:30]:
            sends.append(dict(mailing_id=m["mailing_id"], person_id=p["person_id"],
                              sent_at=DATA_FROM))
    for v in range(visitors):
        vid = f"v{v:05}visitor"
        site = SITES[v % 2]
        bot = v % 10 == 9
        person = persons[v % 40] if v % 3 == 0 and not bot else None
        if person:
            links.append(dict(visitor_id=vid, person_id=person["person_id"], site=site,
                              source="click", linked_at=DATA_FROM, revoked=0, version=1))
        browser, bver, os_, device = DEVICES[v % 4]
        country, region, city = GEO[v % 4]
        ident = dict(site=site, visitor_id=vid, country=country, region=region, city=city,
                     browser=browser, browser_version=bver, os=os_,
                     device="bot" if bot else device, is_bot=int(bot),
                     bot_reason="crawler" if bot else "",
                     person_id=person["person_id"] if person else "",
                     account_id=person["account_id"] if person else "",
                     consent=1 if person else 0)
        for _ in range(rng.randint(1, 3)):
            at = DATA_FROM + timedelta(seconds=rng.randrange(0, 3 * 86400 - 7200))
            ref, ref_host, kind = REFERRERS[rng.randrange(len(REFERRERS))]
            src, med, camp = CAMPAIGNS[rng.randrange(len(CAMPAIGNS))]
            for step in range(rng.randint(1, 6)):
                path = PATHS[min(step + rng.randrange(2), len(PATHS) - 1)] if step else "/"
                first = step == 0
                hits.append(hit(rng, at, path=path, title=path.strip("/") or "home",
                                referrer=ref if first else f"https://{site}/",
                                referrer_host=ref_host if first else site,
                                referrer_kind=kind if first else "internal",
                                utm_source=src, utm_medium=med, utm_campaign=camp, **ident))
                if rng.random() < 0.5:
                    hits.append(hit(rng, at + timedelta(seconds=15), type="ping", path=path,
                                    **ident))
                if path == "/signup" and rng.random() < 0.6:
                    hits.append(hit(rng, at + timedelta(seconds=20), type="event", path=path,
                                    event_name="signup", props='{"plan":"pro"}', **ident))
                if path == "/docs":
                    hits.append(hit(rng, at + timedelta(seconds=5), type="download", path=path,
                                    url="https://cdn.example/guide.pdf", **ident))
                if path == "/blog/a":
                    hits.append(hit(rng, at + timedelta(seconds=5), type="outbound", path=path,
                                    url="https://partner.example/", **ident))
                at += timedelta(seconds=rng.randint(10, 300))
    # Mailing opens and clicks: a machine open (Apple MPP) for some, human opens and clicks,
    # and a link scanner clicking every link of a few sends.
    for m in ("m1", "m2"):
        for i, p in enumerate(persons[:30]):
            at = DATA_FROM + timedelta(hours=1 + i)
            base = dict(site=SITES[0], mailing_id=m, person_id=p["person_id"],
                        account_id=p["account_id"], consent=1, visitor_id=f"mail-{p['person_id']}")
            if i % 5 == 0:
                hits.append(hit(rng, at, type="open", verdict="apple_mpp", path="/o", **base))
            if i % 2 == 0:
                hits.append(hit(rng, at + timedelta(minutes=5), type="open", verdict="human",
                                path="/o", **base))
            if i % 3 == 0:
                link = f"l{1 + i % 2}"
                hits.append(hit(rng, at + timedelta(minutes=6), type="click", verdict="human",
                                path="/r", link_id=link, **base))
                hits.append(hit(rng, at + timedelta(minutes=7), path="/pricing",
                                referrer_kind="email", utm_source="newsletter",
                                utm_medium="email", utm_campaign=m, **base))
                hits.append(hit(rng, at + timedelta(minutes=9), type="event", path="/signup",
                                event_name="signup", **base))
            if i % 7 == 0:
                for link in ("l1", "l2"):
                    hits.append(hit(rng, at + timedelta(seconds=2), type="click",
                                    verdict="scanner", path="/r", link_id=link, is_bot=1,
                                    bot_reason="scanner", **base))
    # Replays: the spool re-sends a batch with the same event ids and times.
    hits.extend(dict(h) for h in hits[:: 37])
    goals = [dict(name="signup", definition='{"event": "signup"}', updated_at=DATA_FROM,
                  version=1)]
    funnels = [dict(name="signup", definition=json.dumps({"steps": [
        {"name": "home", "path": "/"}, {"name": "pricing", "path": "/pricing"},
        {"name": "signup", "event": "signup"}], "window_s": 86400}),
        updated_at=DATA_FROM, version=1)]
    return dict(accounts=accounts, persons=persons, mailings=mailings, mailing_sends=sends,
                consents=consents, identity_links=links, goals=goals, funnels=funnels, hits=hits)
