/*
 * feedback.js - the dashboard of `ambient feedback` (feedback.html).
 *
 * Uses the server's JSON API (docs/feedback.md): GET /events (filters,
 * cursor paging), GET /events/stream (Server-Sent Events: stored events,
 * and notification outcomes as `event: notification` frames or objects with
 * "kind": "notification"), GET /notifications (outcomes; an older server
 * without it answers 404 and the page says "notifications: not available"),
 * GET /health and GET /metrics.  Everything from the server is put into the
 * page as text (textContent), never as HTML.
 */
'use strict';

(() => {
	const $ = (id) => document.getElementById(id);
	const PAGE = 50;

	const state = {
		events: new Map(),        // seq -> stored event, for the rows on the page
		outcomes: new Map(),      // seq of the event -> [notification outcome]
		notifications: null,      // null: unknown yet, false: not available, true
		selected: null,           // seq
		cursor: null,             // next_cursor of the list
		source: null,             // EventSource
		filters: {},
		metricsTimer: 0,
	};

	/* ---- helpers ---- */

	function el(tag, props, ...children) {
		const e = document.createElement(tag);
		for (const [k, v] of Object.entries(props || {})) {
			if (v === undefined || v === null) continue;
			if (k === 'dataset') Object.assign(e.dataset, v);
			else if (k in e) e[k] = v;
			else e.setAttribute(k, v);
		}
		for (const c of children) {
			if (c === null || c === undefined) continue;
			e.append(c instanceof Node ? c : document.createTextNode(String(c)));
		}
		return e;
	}

	function showError(msg) {
		$('error-text').textContent = msg;
		$('error').hidden = false;
	}

	function clearError() {
		$('error').hidden = true;
	}

	async function getJSON(path) {
		const r = await fetch(path, {headers: {Accept: 'application/json'}, cache: 'no-store'});
		let j = null;
		try {
			j = await r.json();
		} catch (e) {
			j = null;
		}
		if (!r.ok) {
			const err = new Error((j && j.message) || r.status + ' ' + r.statusText);
			err.status = r.status;
			throw err;
		}
		return j;
	}

	function query(extra) {
		const p = new URLSearchParams();
		for (const [k, v] of Object.entries(Object.assign({}, state.filters, extra || {})))
			if (v !== undefined && v !== null && v !== '') p.set(k, v);
		const s = p.toString();
		return s ? '?' + s : '';
	}

	function priorityBadge(p) {
		return el('span', {className: 'badge p' + p, title: 'priority ' + p}, String(p));
	}

	// The latest outcome of each channel/recipient, as badges.
	function outcomeBadges(seq) {
		const list = state.outcomes.get(seq) || [];
		if (!list.length) return [el('span', {className: 'muted'}, state.notifications === false ? 'n/a' : '\u2014')];
		const latest = new Map();
		for (const n of list) latest.set((n.channel || '') + ' ' + (n.to || ''), n);
		return [...latest.values()].map((n) => el('span', {className: 'badge ' + n.outcome,
			title: [n.channel, n.to, n.reason || n.error || ''].filter(Boolean).join(' \u00b7 ')},
		n.outcome + (n.channel ? ' ' + n.channel : '')));
	}

	/* ---- the list ---- */

	function rowFor(ev, fresh) {
		const tr = el('tr', {className: 'row' + (fresh ? ' fresh' : '') + (ev.seq === state.selected ? ' selected' : ''),
			dataset: {seq: ev.seq}},
		el('td', {className: 'mono'}, String(ev.seq)),
		el('td', {className: 'small', title: ev.received_at || ''}, (ev.received_at || '').replace('T', ' ').slice(0, 19)),
		el('td', {className: 'mono small'}, ev.task_id),
		el('td', {}, el('code', {}, ev.event_type)),
		el('td', {}, priorityBadge(ev.priority)),
		el('td', {}, ev.description || (ev.data && ev.data.description) || ''),
		el('td', {className: 'outcomes'}, ...outcomeBadges(ev.seq)));
		return tr;
	}

	function tbody() {
		return $('events').querySelector('tbody');
	}

	// Insert in seq order (newest first); true when it was new.
	function addEvent(ev, fresh) {
		if (typeof ev.seq !== 'number' || state.events.has(ev.seq)) return false;
		state.events.set(ev.seq, ev);
		const tr = rowFor(ev, fresh);
		const next = [...tbody().children].find((r) => Number(r.dataset.seq) < ev.seq);
		tbody().insertBefore(tr, next || null);
		$('no-events').hidden = true;
		return true;
	}

	function refreshOutcomeCell(seq) {
		const tr = tbody().querySelector('tr[data-seq="' + seq + '"]');
		if (tr) tr.querySelector('td.outcomes').replaceChildren(...outcomeBadges(seq));
		if (state.selected === seq) renderNotifications(seq);
	}

	function addOutcome(n) {
		const seq = typeof n.event === 'number' ? n.event : null;
		if (seq === null) return;
		const list = state.outcomes.get(seq) || [];
		if (list.some((x) => x.seq === n.seq)) return;
		list.push(n);
		list.sort((a, b) => a.seq - b.seq);
		state.outcomes.set(seq, list);
		refreshOutcomeCell(seq);
	}

	async function loadNotifications() {
		try {
			const j = await getJSON('/notifications' + query({event_type: undefined, min_priority: undefined,
				limit: 500}));
			state.notifications = true;
			$('c-notifications-box').title = '';
			for (const n of (j.notifications || []).slice().reverse()) addOutcome(n);
		} catch (e) {
			if (e.status === 404) {
				state.notifications = false;
				$('c-notifications').textContent = 'not available';
				$('c-notifications-box').title = 'This server has no /notifications endpoint.';
				for (const seq of state.events.keys()) refreshOutcomeCell(seq);
			}
		}
	}

	async function loadPage(cursor) {
		let j;
		try {
			j = await getJSON('/events' + query({limit: PAGE, cursor: cursor || undefined}));
		} catch (e) {
			showError('Loading events failed: ' + e.message);
			return;
		}
		for (const ev of j.events || []) addEvent(ev, false);
		state.cursor = j.next_cursor;
		$('more').hidden = !j.next_cursor;
		$('no-events').hidden = state.events.size > 0;
	}

	// (Re)load the list for the current filters, then follow the stream from
	// the store position read first, so nothing falls in between.
	async function reload() {
		clearError();
		if (state.source) state.source.close();
		state.events.clear();
		state.outcomes.clear();
		tbody().replaceChildren();
		selectEvent(null);
		let start = 0;
		try {
			const h = await getJSON('/health');
			start = h.store_position || 0;
			const sig = $('signatures');
			sig.textContent = h.signatures_required ? 'signatures required' : 'signatures not checked';
			sig.className = 'badge ' + (h.signatures_required ? 'ok' : 'warn');
		} catch (e) {
			showError('The server cannot be reached: ' + e.message);
		}
		await loadPage(null);
		await loadNotifications();
		$('list-note').textContent = describeFilters();
		follow(start);
		loadTypes();
	}

	function describeFilters() {
		const f = state.filters;
		const parts = [];
		if (f.event_type) parts.push('type ' + f.event_type);
		if (f.task_id) parts.push('task ' + f.task_id);
		if (f.min_priority) parts.push('priority \u2265 ' + f.min_priority);
		return parts.length ? 'showing ' + parts.join(', ') : '';
	}

	async function loadTypes() {
		try {
			const j = await getJSON('/events/recent');
			$('event-types').replaceChildren(...(j.event_types || []).map((t) => el('option', {value: t})));
		} catch (e) {
			// optional
		}
	}

	/* ---- live ---- */

	function setLive(on, text) {
		$('live').className = 'live ' + (on ? 'on' : 'off');
		$('live').textContent = text;
	}

	function onFrame(msg, kind) {
		let obj;
		try {
			obj = JSON.parse(msg.data);
		} catch (e) {
			return;
		}
		if (kind === 'notification' || obj.kind === 'notification') {
			if (state.notifications === null) state.notifications = true;
			addOutcome(obj);
		} else if (addEvent(obj, true)) {
			scheduleMetrics();
		}
	}

	function follow(after) {
		const src = new EventSource('/events/stream' + query({after}));
		state.source = src;
		src.onopen = () => setLive(true, 'live');
		src.onerror = () => setLive(false, src.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting');
		src.onmessage = (m) => onFrame(m, 'feedback');
		src.addEventListener('feedback', (m) => onFrame(m, 'feedback'));
		src.addEventListener('notification', (m) => onFrame(m, 'notification'));
	}

	/* ---- detail ---- */

	function selectEvent(seq) {
		state.selected = seq;
		for (const tr of tbody().children) tr.classList.toggle('selected', Number(tr.dataset.seq) === seq);
		const ev = seq === null ? null : state.events.get(seq);
		$('detail').hidden = !ev;
		$('detail-empty').hidden = !!ev;
		if (!ev) return;
		const fields = ['seq', 'feedback_id', 'task_id', 'event_type', 'priority', 'received_at', 'timestamp',
			'task_type', 'user_id', 'event_id', 'position', 'signature_verified', 'webhook_id'];
		const kv = [];
		for (const f of fields)
			if (ev[f] !== undefined && ev[f] !== null) kv.push(el('dt', {}, f), el('dd', {className: 'mono'}, String(ev[f])));
		if (ev.description) kv.push(el('dt', {}, 'description'), el('dd', {}, ev.description));
		$('detail-kv').replaceChildren(...kv);
		$('detail-data').textContent = JSON.stringify(ev.data, null, 2);
		$('detail-json').textContent = JSON.stringify(ev, null, 2);
		renderNotifications(seq);
		fetchOutcomes(ev);
	}

	async function fetchOutcomes(ev) {
		if (state.notifications === false) return;
		try {
			const j = await getJSON('/notifications?task_id=' + encodeURIComponent(ev.task_id) + '&limit=200');
			state.notifications = true;
			for (const n of j.notifications || [])
				if (n.event === ev.seq || (n.feedback_id && n.feedback_id === ev.feedback_id)) addOutcome(Object.assign({}, n, {event: ev.seq}));
		} catch (e) {
			if (e.status === 404) state.notifications = false;
		}
		if (state.selected === ev.seq) renderNotifications(ev.seq);
	}

	function renderNotifications(seq) {
		const box = $('detail-notifications');
		if (state.notifications === false) {
			box.replaceChildren(el('p', {className: 'muted'}, 'notifications: not available (this server has no /notifications)'));
			return;
		}
		const list = state.outcomes.get(seq) || [];
		const ev = state.events.get(seq);
		const decision = ev && ev.decision ? decisionEl(ev.decision) : null;
		if (!list.length && decision) {
			box.replaceChildren(decision);
			return;
		}
		if (!list.length) {
			box.replaceChildren(el('p', {className: 'muted'}, 'No notification recorded for this event (yet).'));
			return;
		}
		box.replaceChildren(...(decision ? [decision] : []), ...list.map((n) => {
			const kv = [];
			for (const f of ['channel', 'to', 'message', 'status', 'provider_id', 'reason', 'rule', 'error', 'attempts', 'recorded_at'])
				if (n[f] !== undefined && n[f] !== null && n[f] !== '')
					kv.push(el('dt', {}, f), el('dd', {}, typeof n[f] === 'object' ? JSON.stringify(n[f]) : String(n[f])));
			return el('div', {className: 'outcome ' + n.outcome},
				el('span', {className: 'badge ' + n.outcome}, n.outcome || n.type),
				el('dl', {className: 'kv'}, ...kv));
		}));
	}

	// A decision of the notifier, when the server includes it with the event.
	function decisionEl(d) {
		const kv = [];
		for (const f of ['action', 'decided_by', 'rule', 'reason', 'message', 'targets', 'hold_until'])
			if (d[f] !== undefined && d[f] !== null && d[f] !== '')
				kv.push(el('dt', {}, f), el('dd', {}, Array.isArray(d[f]) ? d[f].join(', ') : String(d[f])));
		return el('div', {className: 'outcome decided'}, el('span', {className: 'badge ' + (d.action || '')},
			'decided: ' + (d.action || '?')), el('dl', {className: 'kv'}, ...kv));
	}

	/* ---- counters ---- */

	function parseMetrics(text) {
		const m = {};
		for (const line of text.split('\n')) {
			if (!line || line.startsWith('#')) continue;
			const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
			if (!match) continue;
			m[match[1]] = (m[match[1]] || 0) + Number(match[3]);
		}
		return m;
	}

	async function loadMetrics() {
		try {
			const r = await fetch('/metrics', {cache: 'no-store'});
			if (!r.ok) return;
			const m = parseMetrics(await r.text());
			const set = (id, v) => {
				$(id).textContent = v === undefined ? '?' : String(v);
			};
			set('c-stored', m.ambient_feedback_events_stored);
			set('c-received', m.ambient_feedback_received_total);
			set('c-duplicates', m.ambient_feedback_duplicates_total);
			set('c-rejected', m.ambient_feedback_rejected_total);
			set('c-decided', m.ambient_feedback_decided_total);
			if (state.notifications !== false) {
				const keys = Object.keys(m).filter((k) => /^ambient_(feedback_)?notifications?(_\w+)?_total$/.test(k));
				if (keys.length) set('c-notifications', keys.reduce((a, k) => a + m[k], 0));
				else if (state.notifications) $('c-notifications').textContent = String(
					[...state.outcomes.values()].reduce((a, l) => a + l.length, 0));
			}
		} catch (e) {
			// the live indicator says when the server is gone
		}
	}

	function scheduleMetrics() {
		clearTimeout(state.metricsTimer);
		state.metricsTimer = setTimeout(loadMetrics, 300);
	}

	/* ---- wiring ---- */

	function readFilters() {
		state.filters = {
			event_type: $('f-type').value.trim(),
			task_id: $('f-task').value.trim(),
			min_priority: $('f-priority').value,
		};
	}

	function init() {
		$('error-close').addEventListener('click', clearError);
		$('filters').addEventListener('submit', (ev) => {
			ev.preventDefault();
			readFilters();
			reload();
		});
		$('f-priority').addEventListener('change', () => {
			readFilters();
			reload();
		});
		$('f-clear').addEventListener('click', () => {
			$('f-type').value = '';
			$('f-task').value = '';
			$('f-priority').value = '';
			readFilters();
			reload();
		});
		$('more').addEventListener('click', () => {
			if (state.cursor) loadPage(state.cursor);
		});
		tbody().addEventListener('click', (ev) => {
			const tr = ev.target.closest('tr.row');
			if (tr) selectEvent(Number(tr.dataset.seq));
		});
		// Start from the URL's filters (?task_id=...&min_priority=3), if any.
		const u = new URLSearchParams(location.search);
		$('f-type').value = u.get('event_type') || '';
		$('f-task').value = u.get('task_id') || '';
		$('f-priority').value = u.get('min_priority') || '';
		readFilters();
		reload();
		loadMetrics();
		setInterval(loadMetrics, 10000);
	}

	init();
})();
