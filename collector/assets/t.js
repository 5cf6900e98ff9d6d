/*! tq tracker, served at /t.js. Options, commands and guarantees: README.md "Tracker". */
(() => {
  const w = window, d = document, n = navigator, h = history, l = location;
  const safe = (f) => function () { try { return f.apply(this, arguments); } catch (e) {} };
  safe(() => {
    if (w.tq && w.tq.loaded) return;
    const el = d.currentScript || d.querySelector('script[data-site]');
    const opt = (k) => el.getAttribute('data-' + k);
    const off = (k) => /^(false|off|no|0)$/i.test(opt(k));
    const site = opt('site');
    if (!site) return;
    const base = opt('collector') ? new URL(opt('collector'), l).href.replace(/\/+$/, '') : new URL(el.src, l).origin;
    const hashMode = opt('hash') != null && !off('hash');
    const pingMs = (opt('ping') || 15) * 1e3;
    const exts = off('downloads') ? [] : (opt('downloads') || 'pdf,zip,gz,dmg,exe,msi,apk,csv,xlsx,docx,pptx,mp3,mp4').toLowerCase().split(/[\s,]+/);
    const anon = () => n.doNotTrack == 1 || w.doNotTrack == 1 || n.globalPrivacyControl === true;
    const cookie = (v, age) => { d.cookie = '_tqv=' + v + '; Max-Age=' + age + '; Path=/; SameSite=Lax' + (l.protocol == 'https:' ? '; Secure' : ''); };
    const uuid = () => `${1e7}-${1e3}-${4e3}-${8e3}-${1e11}`.replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

    // The cookie exists only after consent(true).
    let vid = (d.cookie.match(/(?:^|; *)_tqv=([\w-]{8,64})/) || [])[1];
    if (vid && anon()) { vid = 0; cookie('', 0); }
    let pt;
    const land = new URL(l);
    if (land.searchParams.has('tq_pt')) {
      pt = land.searchParams.get('tq_pt');
      land.searchParams.delete('tq_pt');
      h.replaceState(h.state, '', land);
    }

    const pageUrl = () => (hashMode ? l.href : l.href.split('#')[0]).slice(0, 4096);
    let page, ref = d.referrer;
    const hit = (e, x) => {
      const o = { s: site, e, u: pageUrl(), id: uuid(), sw: screen.width, sh: screen.height };
      if (d.title) o.t = d.title.slice(0, 500);
      if (ref) o.r = ref.slice(0, 4096);
      if (/^[\w-]{1,35}$/.test(n.language)) o.lang = n.language;
      if (vid) o.v = vid;
      if (pt) o.pt = pt;
      return Object.assign(o, x);
    };

    // Delivery, retries and timing rules: README "Tracker".
    const url = base + '/e', queue = [];
    let busy, timer = 0, fails = 0;
    const pixel = (o) => {
      const q = new URLSearchParams();
      for (const k in o) if (o[k] != null) q.set(k, k == 'p' ? JSON.stringify(o[k]) : o[k]);
      new Image().src = base + '/p.gif?' + q;
    };
    const post = (a) => fetch(url, { method: 'POST', body: JSON.stringify(a), keepalive: true, credentials: 'omit' });
    const beacon = (a) => {
      for (let i = 0; i < a.length; i += 20) {
        const b = a.slice(i, i + 20);
        if (!(n.sendBeacon && n.sendBeacon(url, JSON.stringify(b)))) w.fetch ? post(b).catch(() => {}) : b.forEach(pixel);
      }
    };
    const flush = safe(() => {
      if (busy || timer || !queue.length) return;
      if (!w.fetch) return queue.splice(0).forEach((x) => pixel(x.o));
      busy = 1;
      const batch = queue.slice(0, 20);
      batch.forEach((x) => { x.busy = 1; });
      const done = safe((ok) => {
        busy = 0;
        fails = ok ? 0 : Math.min(fails + 1, 7); // backoff capped at a minute
        for (const x of batch) {
          x.busy = 0;
          const i = queue.indexOf(x);
          if (i >= 0 && (ok || ++x.tries > 7)) queue.splice(i, 1);
        }
        if (queue.length) timer = setTimeout(safe(() => { timer = 0; flush(); }), ok ? 0 : Math.min(6e4, 500 << fails));
      });
      post(batch.map((x) => x.o)).then((r) => done(r.status < 500 && r.status != 429), () => done(0));
    });
    const send = (o) => {
      if (queue.push({ o, tries: 0 }) > 100) queue.shift();
      flush();
    };
    const leave = () => {
      beacon(queue.filter((x) => !x.busy).map((x) => x.o));
      queue.splice(0, 1e9, ...queue.filter((x) => x.busy));
    };

    let ticker, open;
    const visible = () => d.visibilityState != 'hidden';
    const resume = () => {
      if (pingMs > 0 && !open && visible()) { open = 1; ticker = setInterval(safe(() => beacon([hit('ping')])), pingMs); }
    };
    const pause = () => {
      if (open) { open = 0; clearInterval(ticker); beacon([hit('ping')]); }
    };
    const pageview = () => {
      if (page) ref = page;
      page = pageUrl();
      send(hit('pageview'));
      resume();
    };
    const moved = safe(() => setTimeout(safe(() => pageUrl() != page && pageview())));
    const props = (p) => {
      const o = {};
      for (const k in p) { const v = p[k]; o[k] = v && typeof v == 'object' ? String(v) : v; }
      if (new Blob([JSON.stringify(o)]).size < 2e3) return o;
    };
    const commands = {
      pageview,
      track: (name, p) => {
        name = String(name == null ? '' : name).replace(/[\0-\x1f\x7f-\x9f]/g, '').slice(0, 200);
        if (name) send(hit('event', { n: name, p: p && typeof p == 'object' ? props(p) : undefined }));
      },
      identify: (token) => { pt = token ? String(token).slice(0, 4096) : 0; },
      consent: (yes) => {
        // Withdrawal forgets the person token too.
        if (!yes || anon()) { if (!yes) { vid = pt = 0; cookie('', 0); } }
        else if (!vid) cookie((vid = uuid().replace(/-/g, '')), 34128e3); // 395 days < 13 months
      },
    };
    const run = safe((c) => commands[c[0]] && commands[c[0]](...[].slice.call(c, 1)));

    const clicked = safe((ev) => {
      const a = ev.target.closest('a[href]');
      if (!a || (ev.type == 'auxclick' && ev.button != 1)) return;
      const to = new URL(a.href, l);
      if (!/^https?:$/.test(to.protocol)) return;
      const ext = (to.pathname.match(/\.(\w+)$/) || [])[1];
      const kind = a.hasAttribute('download') || (ext && exts.includes(ext.toLowerCase())) ? 'download'
        : !off('outbound') && to.host != l.host ? 'outbound' : 0;
      if (kind) send(hit(kind, { n: to.href.slice(0, 200) }));
    });

    const early = Array.isArray(w.tq) ? w.tq : [];
    w.tq = { loaded: 1, push: safe((...cs) => cs.forEach(run)) };
    const isState = (c) => c && /^(identify|consent)$/.test(c[0]);
    early.filter(isState).forEach(run);
    if (!off('auto')) {
      pageview();
      for (const k of ['pushState', 'replaceState']) {
        const orig = h[k];
        // Outside our try: the page's errors stay its own.
        h[k] = function () { const r = orig.apply(this, arguments); moved(); return r; };
      }
      w.addEventListener('popstate', moved);
      if (hashMode) w.addEventListener('hashchange', moved);
      w.addEventListener('pageshow', safe((e) => e.persisted && pageview()));
    }
    early.filter((c) => !isState(c)).forEach(run);
    for (const t of ['click', 'auxclick']) d.addEventListener(t, clicked, true);
    d.addEventListener('visibilitychange', safe(() => { if (visible()) resume(); else { pause(); leave(); } }));
    w.addEventListener('pagehide', safe(() => { pause(); leave(); }));
  })();
})();
