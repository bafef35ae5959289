/*
 * tasks.js - the task dashboard of `ambient serve` (tasks.html).
 *
 * Talks to the JSON API under /api/ (src/app/web_api.h): lists tasks, shows a
 * task's events, creates tasks with the arguments of the MCP tool
 * create_background_task, pauses, resumes, runs and deletes them, and follows
 * /api/events/stream (Server-Sent Events, read with fetch so that an API key
 * can be sent) to update the page live.  Everything from the server is put
 * into the page as text (textContent), never as HTML.
 */
'use strict';

(() => {
	const $ = (id) => document.getElementById(id);
	const KEY_STORAGE = 'ambient.apiKey';
	const TIMELINE_PAGE = 50;

	const state = {
		tasks: [],
		selected: null,      // task id shown in the timeline
		seen: new Set(),     // versions of the selected task's events on the page
		nextBefore: null,    // paging of the timeline
		formType: 'web_monitor',
		key: sessionStorage.getItem(KEY_STORAGE) || '',
		lastPosition: null,  // of the last event seen on the live stream
		refreshTimer: 0,
	};

	/* ---- small helpers ---- */

	// el('td', {className: 'x', title: 't'}, 'text', childNode, ...)
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

	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

	// Server times carry microseconds; Date wants at most milliseconds.
	function parseTime(iso) {
		if (!iso) return null;
		const d = new Date(String(iso).replace(/(\.\d{3})\d+/, '$1'));
		return isNaN(d.getTime()) ? null : d;
	}

	function relative(d) {
		const s = Math.round((d.getTime() - Date.now()) / 1000);
		const a = Math.abs(s);
		let text;
		if (a < 45) text = a < 5 ? 'now' : a + ' s';
		else if (a < 5400) text = Math.round(a / 60) + ' min';
		else if (a < 129600) text = Math.round(a / 3600) + ' h';
		else text = Math.round(a / 86400) + ' d';
		if (text === 'now') return text;
		return s < 0 ? text + ' ago' : 'in ' + text;
	}

	// A <time> showing "3 min ago" with the full date as its tooltip.
	function timeEl(iso) {
		const d = parseTime(iso);
		if (!d) return el('span', {className: 'muted'}, '\u2014');
		return el('time', {dateTime: iso, title: d.toLocaleString()}, relative(d));
	}

	class ApiError extends Error {
		constructor(status, code, message) {
			super(message);
			this.status = status;
			this.code = code;
		}
	}

	function headers(extra) {
		const h = Object.assign({Accept: 'application/json'}, extra || {});
		if (state.key) h.Authorization = 'Bearer ' + state.key;
		return h;
	}

	async function api(method, path, body) {
		const opt = {method, headers: headers(), cache: 'no-store'};
		if (method !== 'GET') {
			// JSON content type: the server refuses mutations without it (CSRF).
			opt.headers['Content-Type'] = 'application/json';
			opt.body = JSON.stringify(body || {});
		}
		let r;
		try {
			r = await fetch(path, opt);
		} catch (e) {
			throw new ApiError(0, 'network', 'The server cannot be reached (' + e.message + ')');
		}
		let j = null;
		try {
			j = await r.json();
		} catch (e) {
			j = null;
		}
		if (r.status === 401) showKeyForm();
		if (!r.ok) {
			const msg = (j && j.message) || r.statusText || 'request failed';
			throw new ApiError(r.status, (j && j.error) || 'http_' + r.status, msg);
		}
		return j;
	}

	function showError(msg) {
		$('error-text').textContent = msg;
		$('error').hidden = false;
	}

	function clearError() {
		$('error').hidden = true;
		$('error-text').textContent = '';
	}

	function say(msg) {
		$('action-result').textContent = msg;
	}

	function showKeyForm() {
		$('key-form').hidden = false;
	}

	function setLive(on, text) {
		const l = $('live');
		l.className = 'live ' + (on ? 'on' : 'off');
		l.textContent = text;
	}

	/* ---- the task table ---- */

	async function loadTasks() {
		const status = $('status-filter').value;
		let j;
		try {
			j = await api('GET', '/api/tasks' + (status ? '?status=' + encodeURIComponent(status) : ''));
		} catch (e) {
			showError('Loading tasks failed: ' + e.message);
			return;
		}
		state.tasks = j.tasks || [];
		renderEngine(j.engine);
		renderTasks();
		if (state.selected) {
			const t = state.tasks.find((x) => x.task_id === state.selected);
			if (t) renderDetail(t);
		}
	}

	function scheduleRefresh() {
		clearTimeout(state.refreshTimer);
		state.refreshTimer = setTimeout(loadTasks, 250);
	}

	function renderEngine(engine) {
		const b = $('engine');
		if (engine && engine.running) {
			b.className = 'badge ok';
			b.textContent = 'engine: running';
			b.title = 'A task engine holds the lease on this store and runs the active tasks.';
		} else {
			b.className = 'badge warn';
			b.textContent = 'engine: not running';
			b.title = 'No task engine runs on this store: tasks are recorded but not checked. ' +
				'Start `ambient serve` without --no-engine.';
		}
	}

	function statusCell(t) {
		const td = el('td', {}, el('span', {className: 'badge ' + t.status}, t.status));
		if (t.failures > 0)
			td.append(' ', el('span', {className: 'badge bad', title: 'failed checks in a row'},
				t.failures + ' failed'));
		if (t.status === 'paused' && t.paused_reason)
			td.append(el('div', {className: 'muted small'}, t.paused_reason));
		return td;
	}

	function actionButton(label, action, t, opts) {
		return el('button', Object.assign({type: 'button', dataset: {action, id: t.task_id}}, opts || {}),
			label);
	}

	function renderTasks() {
		const tbody = $('tasks').querySelector('tbody');
		const rows = [];
		for (const t of state.tasks) {
			const active = t.status === 'active';
			const tr = el('tr', {className: 'row' + (t.task_id === state.selected ? ' selected' : ''),
				dataset: {id: t.task_id}},
			el('td', {}, el('div', {}, t.description),
				el('div', {className: 'muted small mono'}, t.task_id)),
			el('td', {}, t.task_type),
			statusCell(t),
			el('td', {}, timeEl(t.last_check)),
			el('td', {}, active ? timeEl(t.next_run) : el('span', {className: 'muted'}, '\u2014')),
			el('td', {}, String(t.events)),
			el('td', {}, el('div', {className: 'actions'},
				actionButton('Run now', 'run', t, {disabled: !active,
					title: active ? 'One check now, outside the schedule' : 'Resume the task first'}),
				active ? actionButton('Pause', 'pause', t) : actionButton('Resume', 'resume', t),
				actionButton('Delete', 'delete', t, {className: 'danger'}))));
			rows.push(tr);
		}
		tbody.replaceChildren(...rows);
		$('no-tasks').hidden = state.tasks.length > 0;
		$('task-count').textContent = state.tasks.length ? '(' + state.tasks.length + ')' : '';
	}

	async function act(action, id) {
		const t = state.tasks.find((x) => x.task_id === id);
		const name = t ? '"' + t.description + '"' : id;
		clearError();
		try {
			if (action === 'delete') {
				if (!confirm('Delete task ' + name + '? It stops for good; its events stay in the log.'))
					return;
				await api('DELETE', '/api/tasks/' + encodeURIComponent(id));
				say('Deleted ' + name + '.');
				if (state.selected === id) selectTask(null);
			} else if (action === 'run') {
				await api('POST', '/api/tasks/' + encodeURIComponent(id) + '/run', {reason: 'dashboard'});
				say('Asked for a check of ' + name + ' now.');
			} else {
				const j = await api('POST', '/api/tasks/' + encodeURIComponent(id) + '/' + action, {});
				const past = action === 'pause' ? 'paused' : 'resumed';
				say(j.changed ? 'Task ' + name + ' ' + past + '.' : 'Task ' + name + ' was already ' +
					(action === 'pause' ? 'paused' : 'active') + '.');
			}
		} catch (e) {
			showError(e.message);
		}
		await loadTasks();
	}

	/* ---- the timeline ---- */

	function renderDetail(t) {
		$('timeline-task').textContent = t.description + ' \u00b7 ' + t.task_id;
		const kv = $('task-kv');
		const rows = [
			['type', t.task_type], ['status', t.status], ['created', timeEl(t.created_at)],
			['updated', timeEl(t.updated_at)], ['last check', timeEl(t.last_check)],
			['next run', t.status === 'active' ? timeEl(t.next_run) : '\u2014'],
			['events', String(t.events)], ['user', t.user_id], ['callback', t.callback_url || 'default'],
		];
		kv.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
		$('task-config').textContent = JSON.stringify(t.config, null, 2);
		$('task-detail').hidden = false;
	}

	function eventEl(ev, fresh) {
		const meta = ev.metadata || {};
		const d = el('details', {className: 'event' + (fresh ? ' fresh' : ''), dataset: {version: ev.version}},
			el('summary', {}, timeEl(ev.recorded_at), el('code', {}, ev.type),
				el('span', {className: 'muted small'}, 'v' + ev.version),
				meta.principal ? el('span', {className: 'muted small'}, meta.principal) : null),
			el('pre', {}, JSON.stringify(ev.data, null, 2)),
			el('div', {className: 'muted small mono'}, 'event ' + ev.event_id + ' \u00b7 position ' +
				ev.position + ' \u00b7 ' + JSON.stringify(meta)));
		return d;
	}

	async function selectTask(id) {
		state.selected = id;
		state.seen = new Set();
		state.nextBefore = null;
		$('timeline').replaceChildren();
		$('more-events').hidden = true;
		for (const tr of $('tasks').querySelectorAll('tbody tr'))
			tr.classList.toggle('selected', tr.dataset.id === id);
		if (!id) {
			$('timeline-task').textContent = '';
			$('task-detail').hidden = true;
			$('timeline-empty').hidden = false;
			return;
		}
		$('timeline-empty').hidden = true;
		try {
			const j = await api('GET', '/api/tasks/' + encodeURIComponent(id));
			if (state.selected !== id) return;
			renderDetail(j.task);
		} catch (e) {
			showError(e.message);
			return;
		}
		await loadEvents(id, null);
	}

	async function loadEvents(id, before) {
		let j;
		try {
			j = await api('GET', '/api/tasks/' + encodeURIComponent(id) + '/events?limit=' + TIMELINE_PAGE +
				(before ? '&before=' + before : ''));
		} catch (e) {
			showError(e.message);
			return;
		}
		if (state.selected !== id) return;
		const box = $('timeline');
		for (const ev of j.events) {
			if (state.seen.has(ev.version)) continue;
			state.seen.add(ev.version);
			box.append(eventEl(ev, false));
		}
		state.nextBefore = j.next_before;
		$('more-events').hidden = !j.next_before;
	}

	// A live event of the selected task goes on top, in version order.
	function addLiveEvent(ev) {
		if (state.seen.has(ev.version)) return;
		state.seen.add(ev.version);
		const box = $('timeline');
		const node = eventEl(ev, true);
		const after = [...box.children].find((c) => Number(c.dataset.version) < ev.version);
		box.insertBefore(node, after || null);
	}

	/* ---- live: /api/events/stream ---- */

	function onStreamEvent(ev) {
		if (ev.task_id && ev.task_id === state.selected) addLiveEvent(ev);
		scheduleRefresh();
	}

	async function follow() {
		for (;;) {
			try {
				const h = headers({Accept: 'text/event-stream'});
				if (state.lastPosition !== null) h['Last-Event-ID'] = String(state.lastPosition);
				const r = await fetch('/api/events/stream', {headers: h, cache: 'no-store'});
				if (r.status === 401) {
					showKeyForm();
					setLive(false, 'API key needed');
					await new Promise((resolve) => { state.keyWaiter = resolve; });
					continue;
				}
				if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
				setLive(true, 'live');
				if (state.lastPosition !== null) scheduleRefresh(); // may have missed some
				const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
				let buf = '';
				for (;;) {
					const {value, done} = await reader.read();
					if (done) break;
					buf += value;
					let m;
					while ((m = /\r?\n\r?\n/.exec(buf))) {
						const block = buf.slice(0, m.index);
						buf = buf.slice(m.index + m[0].length);
						handleBlock(block);
					}
				}
			} catch (e) {
				// reconnect below
			}
			setLive(false, 'reconnecting');
			await sleep(2000);
		}
	}

	function handleBlock(block) {
		let id = null;
		const data = [];
		for (const line of block.split(/\r?\n/)) {
			if (line.startsWith(':')) continue;
			const i = line.indexOf(':');
			const field = i < 0 ? line : line.slice(0, i);
			let value = i < 0 ? '' : line.slice(i + 1);
			if (value.startsWith(' ')) value = value.slice(1);
			if (field === 'id') id = value;
			else if (field === 'data') data.push(value);
		}
		if (!data.length) return;
		if (id !== null && /^\d+$/.test(id)) state.lastPosition = Number(id);
		try {
			onStreamEvent(JSON.parse(data.join('\n')));
		} catch (e) {
			// not JSON: ignore
		}
	}

	/* ---- the create forms ---- */

	const lines = (s) => s.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);
	const commas = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

	// A number input: its number, the raw text when it is not one (the server
	// then says what is wrong), or undefined when empty.
	function num(input) {
		const v = input.value.trim();
		if (v === '') return undefined;
		const n = Number(v);
		return Number.isFinite(n) ? n : v;
	}

	function text(input) {
		const v = input.value.trim();
		return v === '' ? undefined : v;
	}

	function hourMinute(input, config) {
		const m = /^(\d{1,2}):(\d{2})/.exec(input.value);
		if (m) {
			config.hour = Number(m[1]);
			config.minute = Number(m[2]);
		}
	}

	const builders = {
		web_monitor(f) {
			return {
				urls: lines(f.elements.urls.value),
				keywords: commas(f.elements.keywords.value),
				keywords_mode: f.elements.keywords_mode.value,
				check_interval_minutes: num(f.elements.check_interval_minutes),
				selector: text(f.elements.selector),
			};
		},
		schedule(f) {
			const kind = f.elements.type.value;
			const c = {type: kind};
			if (kind === 'daily' || kind === 'weekly') hourMinute(f.elements.time, c);
			if (kind === 'weekly') c.days = commas(f.elements.days.value);
			if (kind === 'interval') c.minutes = num(f.elements.minutes);
			if (kind === 'once') {
				const at = f.elements.at.value;
				c.at = at && at.length === 16 ? at + ':00' : at || undefined;
			}
			if (kind === 'cron') c.expression = text(f.elements.expression);
			c.timezone = text(f.elements.timezone);
			c.message = text(f.elements.message);
			return c;
		},
		news_digest(f) {
			const c = {};
			const urls = lines(f.elements.news_urls.value);
			if (urls.length) c.news_urls = urls;
			hourMinute(f.elements.time, c);
			c.timezone = text(f.elements.timezone);
			c.max_items = num(f.elements.max_items);
			return c;
		},
		threshold_watch(f) {
			return {
				metric: text(f.elements.metric),
				metric_url: text(f.elements.metric_url),
				json_path: text(f.elements.json_path),
				threshold: num(f.elements.threshold),
				comparison: f.elements.comparison.value,
				check_interval_minutes: num(f.elements.check_interval_minutes),
			};
		},
	};

	function buildRequest() {
		const f = $('form-' + state.formType);
		const config = builders[state.formType](f);
		const method = $('cm-method').value;
		if (method) {
			const key = {send_sms: 'phone_number', send_email: 'email', webhook: 'url'}[method];
			config.notification = {method, [key]: $('cm-target').value.trim()};
		}
		for (const k of Object.keys(config)) if (config[k] === undefined) delete config[k];
		const req = {task_type: state.formType, description: f.elements.description.value.trim(), config};
		const cb = text($('cm-callback'));
		if (cb) req.callback_url = cb;
		return req;
	}

	function updatePreview() {
		$('create-preview').textContent = JSON.stringify(buildRequest(), null, 2);
	}

	function showForm(type) {
		state.formType = type;
		for (const b of document.querySelectorAll('.tabs [role=tab]'))
			b.setAttribute('aria-selected', String(b.dataset.type === type));
		for (const f of document.querySelectorAll('form.create[data-type]'))
			f.hidden = f.dataset.type !== type;
		updatePreview();
	}

	function showScheduleFields() {
		const kind = $('sc-kind').value;
		for (const e of $('form-schedule').querySelectorAll('[data-for]'))
			e.hidden = !e.dataset.for.split(' ').includes(kind);
	}

	async function create() {
		clearError();
		const req = buildRequest();
		const out = $('create-result');
		if (!req.description) {
			out.textContent = 'Not created: give a description.';
			showError('A task needs a description.');
			return;
		}
		$('create').disabled = true;
		out.textContent = 'Creating\u2026';
		try {
			const j = await api('POST', '/api/tasks', req);
			out.textContent = 'Created ' + j.task.task_id + '.';
			await loadTasks();
			await selectTask(j.task.task_id);
		} catch (e) {
			out.textContent = 'Not created.';
			showError(e.message);
		} finally {
			$('create').disabled = false;
		}
	}

	/* ---- wiring ---- */

	function init() {
		$('error-close').addEventListener('click', clearError);
		$('refresh').addEventListener('click', loadTasks);
		$('status-filter').addEventListener('change', loadTasks);
		$('more-events').addEventListener('click', () => {
			if (state.selected && state.nextBefore) loadEvents(state.selected, state.nextBefore);
		});
		$('tasks').addEventListener('click', (ev) => {
			const b = ev.target.closest('button[data-action]');
			if (b) {
				ev.stopPropagation();
				act(b.dataset.action, b.dataset.id);
				return;
			}
			const tr = ev.target.closest('tr.row');
			if (tr) selectTask(tr.dataset.id);
		});
		for (const b of document.querySelectorAll('.tabs [role=tab]'))
			b.addEventListener('click', () => showForm(b.dataset.type));
		$('sc-kind').addEventListener('change', showScheduleFields);
		$('cm-method').addEventListener('change', () => {
			$('cm-target').hidden = !$('cm-method').value;
		});
		for (const f of document.querySelectorAll('form.create')) {
			f.addEventListener('input', updatePreview);
			f.addEventListener('change', updatePreview);
			f.addEventListener('submit', (ev) => {
				ev.preventDefault();
				create();
			});
		}
		$('create').addEventListener('click', create);
		$('key-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			state.key = $('api-key').value.trim();
			sessionStorage.setItem(KEY_STORAGE, state.key);
			$('key-form').hidden = true;
			clearError();
			if (state.keyWaiter) state.keyWaiter();
			loadTasks();
		});
		// Relative times age: redraw them now and then.
		setInterval(() => {
			renderTasks();
			for (const t of document.querySelectorAll('#timeline time')) {
				const d = parseTime(t.dateTime);
				if (d) t.textContent = relative(d);
			}
		}, 30000);
		showScheduleFields();
		showForm('web_monitor');
		loadTasks();
		follow();
	}

	init();
})();
