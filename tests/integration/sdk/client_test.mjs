// client_test.mjs - drive the real `ambient` binary with the official MCP
// TypeScript SDK client (@modelcontextprotocol/sdk, pinned in tools/npm).
//
// Both transports on one SQLite database at once: `ambient mcp` over stdio
// (StdioClientTransport spawns it) and `ambient serve` over Streamable HTTP
// (StreamableHTTPClientTransport).  Per transport: handshake, tools with
// input and output schemas, the seed's three usage examples as
// create_background_task calls, list/pause/resume/update/run/delete, bad
// input answered with a helpful isError, every resource and template,
// prompts, completion, and resource subscriptions whose updates must arrive
// for changes made by the same client, by the other server process and by
// `ambient task pause` run from here.  Tasks made over one transport must be
// visible over the other.
//
// Usage: node client_test.mjs PATH_TO_AMBIENT WORK_DIR
//   AMBIENT_NPM_MODULES  the node_modules holding the SDK (default: the
//                        repository's tools/npm/node_modules)
// Prints each failure on stderr and a count of checks; exits 1 on any failure.
// Waits only for conditions, each with a deadline; never sleeps for timing.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual, inspect } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const [AMBIENT, WORK] = process.argv.slice(2);
if (!AMBIENT || !WORK) {
	console.error('usage: node client_test.mjs PATH_TO_AMBIENT WORK_DIR');
	process.exit(2);
}
const NPM = process.env.AMBIENT_NPM_MODULES || path.resolve(HERE, '../../../tools/npm/node_modules');
const SDK = path.join(NPM, '@modelcontextprotocol/sdk/dist/esm');
const load = (p) => import(pathToFileURL(path.join(SDK, p)).href);
const [{ Client }, { StdioClientTransport }, { StreamableHTTPClientTransport }, types] =
	await Promise.all([
		load('client/index.js'),
		load('client/stdio.js'),
		load('client/streamableHttp.js'),
		load('types.js'),
	]);
const { ResourceUpdatedNotificationSchema, ElicitRequestSchema, McpError } = types;

const WAIT_MS = 15000; /* deadline for one notification or process */
const WATCHDOG_MS = 240000; /* the whole test (CTest gives 300 s) */
const DB = `sqlite:${path.join(WORK, 'ambient.db')}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOCAL_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/;
const PHONE = '+1234567890';
const SMS = { method: 'send_sms', phone_number: PHONE };
const TOOLS = [
	'create_background_task',
	'list_background_tasks',
	'pause_background_task',
	'resume_background_task',
	'delete_background_task',
	'get_event_sourcing_status',
	'get_task',
	'get_task_events',
	'get_recent_events',
	'update_background_task',
	'run_task_now',
];
const RESOURCES = ['event://tasks', 'event://status', 'event://tasks/active', 'event://config/examples'];
const TEMPLATES = [
	'event://tasks/by-type/{task_type}',
	'event://tasks/{task_id}',
	'event://tasks/{task_id}/events',
];
const PROMPTS = ['monitor_website', 'daily_news_digest', 'daily_reminder'];
const TASK_TYPES = ['web_monitor', 'schedule', 'news_digest', 'threshold_watch'];

// ---- checks ---------------------------------------------------------------------

let passed = 0;
let failed = 0;
let where = 'setup';

function show(v) {
	if (v instanceof Error)
		return `${v.name}: ${v.message}${v.code !== undefined ? ` (code ${v.code})` : ''}`;
	return inspect(v, { depth: 6, breakLength: 120, maxStringLength: 2000 });
}

/* Count one check; on failure say where, what and what came instead. */
function check(ok, what, got) {
	if (ok) {
		passed++;
		return true;
	}
	failed++;
	console.error(`FAIL [${where}] ${what}${arguments.length > 2 ? `\n    got: ${show(got)}` : ''}`);
	return false;
}

/* Run one group of checks; an exception is one failure, the test goes on. */
async function step(name, fn) {
	const outer = where;
	where = `${outer}: ${name}`;
	try {
		return await fn();
	} catch (err) {
		check(false, 'threw', err);
		return undefined;
	} finally {
		where = outer;
	}
}

const textOf = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

function parseJson(text) {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

const sameSet = (a, b) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

// ---- processes --------------------------------------------------------------------

/* The environment of every ambient process: private dirs, no inherited
 * AMBIENT_* settings, logs at warn. */
const ENV = (() => {
	const env = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('AMBIENT_') && k !== 'EVENT_FEEDBACK_URL') env[k] = v;
	for (const d of ['home', 'config', 'data', 'state', 'cache']) fs.mkdirSync(path.join(WORK, d), { recursive: true });
	return {
		...env,
		HOME: path.join(WORK, 'home'),
		XDG_CONFIG_HOME: path.join(WORK, 'config'),
		XDG_DATA_HOME: path.join(WORK, 'data'),
		XDG_STATE_HOME: path.join(WORK, 'state'),
		XDG_CACHE_HOME: path.join(WORK, 'cache'),
		AMBIENT_LOG_LEVEL: 'warn',
	};
})();

const children = new Set(); /* processes this test started and must end */

/* Resolve with the child's exit, or null after ms. */
function exited(child, ms) {
	if (child.exitCode !== null || child.signalCode !== null)
		return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
	return new Promise((resolve) => {
		const t = setTimeout(() => resolve(null), ms);
		child.once('exit', (code, signal) => {
			clearTimeout(t);
			resolve({ code, signal });
		});
	});
}

function track(child) {
	children.add(child);
	child.once('exit', () => children.delete(child));
	return child;
}

function killAll() {
	for (const c of children) {
		try {
			c.kill('SIGKILL');
		} catch {
			/* already gone */
		}
	}
}

/* `ambient serve` on an ephemeral port; resolves with {child, url} once it
 * printed its "listening URL" line. */
async function startServe() {
	const errLog = fs.openSync(path.join(WORK, 'serve.err'), 'w');
	const child = track(
		spawn(AMBIENT, ['serve', '--no-engine', '--listen', '127.0.0.1:0', '--db', DB], {
			env: ENV,
			stdio: ['ignore', 'pipe', errLog],
		}),
	);
	fs.closeSync(errLog);
	let out = '';
	const url = await new Promise((resolve) => {
		const t = setTimeout(() => resolve(null), WAIT_MS);
		child.stdout.setEncoding('utf8');
		child.stdout.on('data', (chunk) => {
			out += chunk;
			const m = /^listening (http:\/\/\S+)$/m.exec(out);
			if (m) {
				clearTimeout(t);
				resolve(m[1]);
			}
		});
		child.once('exit', () => {
			clearTimeout(t);
			resolve(null);
		});
	});
	if (!url) {
		const err = fs.readFileSync(path.join(WORK, 'serve.err'), 'utf8');
		throw new Error(`ambient serve did not print "listening URL" within ${WAIT_MS} ms; stdout: ${out} stderr: ${err}`);
	}
	return { child, url };
}

/* Run `ambient ARGS... --db DB` to completion; resolves {code, signal, stdout, stderr}. */
async function ambient(...args) {
	const child = track(spawn(AMBIENT, [...args, '--db', DB], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] }));
	let stdout = '';
	let stderr = '';
	child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
	child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
	const st = await exited(child, WAIT_MS);
	if (!st) {
		child.kill('SIGKILL');
		throw new Error(`ambient ${args.join(' ')} did not finish within ${WAIT_MS} ms`);
	}
	check(!/runtime error:|Sanitizer/.test(stderr), `ambient ${args.join(' ')}: no sanitizer report`, stderr);
	return { ...st, stdout, stderr };
}

// ---- clients --------------------------------------------------------------------------

/* resources/updated notifications as they arrive, and waits on them. */
class Updates {
	constructor(client) {
		this.uris = [];
		this.waiters = [];
		client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
			this.uris.push(n.params.uri);
			this.waiters = this.waiters.filter((w) => !w.test());
		});
	}
	/* How many have arrived; pass it to wait() to ignore earlier ones. */
	mark() {
		return this.uris.length;
	}
	/* Resolve true once an update of uri arrived at index >= from, false at the deadline. */
	wait(uri, from, ms = WAIT_MS) {
		return new Promise((resolve) => {
			const w = {
				test: () => {
					if (!this.uris.slice(from).includes(uri)) return false;
					clearTimeout(w.timer);
					resolve(true);
					return true;
				},
			};
			if (w.test()) return;
			w.timer = setTimeout(() => {
				this.waiters = this.waiters.filter((x) => x !== w);
				resolve(false);
			}, ms);
			this.waiters.push(w);
		});
	}
}

// The person behind the client: HIGH tools (delete_background_task) ask
// for a confirmation through elicitation, which this client accepts.
let elicitations = [];
function newClient() {
	const c = new Client({ name: 'ambient-sdk-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
	c.setRequestHandler(ElicitRequestSchema, async (req) => {
		elicitations.push(req.params);
		return { action: 'accept', content: { confirm: true } };
	});
	return c;
}

async function connectStdio() {
	const transport = new StdioClientTransport({
		command: AMBIENT,
		args: ['mcp', '--no-engine', '--db', DB],
		env: ENV,
		stderr: 'pipe',
	});
	let stderr = '';
	transport.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
	const client = newClient();
	const updates = new Updates(client);
	await client.connect(transport);
	const proc = transport._process; /* the SDK's child, to see how it ends */
	if (proc) track(proc);
	return { name: 'stdio', client, transport, updates, proc, stderr: () => stderr };
}

async function connectHttp(url) {
	const transport = new StreamableHTTPClientTransport(new URL(url));
	const client = newClient();
	const updates = new Updates(client);
	await client.connect(transport);
	return { name: 'http', client, transport, updates };
}

// ---- what the test expects of the shared database ----------------------------------------

/* Tasks of user "default" that exist (not deleted): id -> {type, status, description}. */
const expected = new Map();
let otherUsersTasks = 0; /* tasks of other users (counted by get_event_sourcing_status) */

/* The seed's three usage examples (seed "使用示例"; ORIGIN.md section 4). */
const SEED_TASKS = [
	{
		key: 'monitor',
		args: {
			task_type: 'web_monitor',
			description: 'Monitor TechCrunch for new articles about artificial intelligence',
			config: {
				urls: ['https://techcrunch.com'],
				keywords: ['artificial intelligence', 'AI', 'machine learning'],
				check_interval_minutes: 30,
				notification: SMS,
			},
			callback_url: 'http://localhost:8000/process_background_feedback',
		},
		expectConfig: { urls: ['https://techcrunch.com'], check_interval_minutes: 30, notification: SMS },
	},
	{
		key: 'digest',
		args: {
			task_type: 'news_digest',
			description: 'Daily technology news digest from TechCrunch and Hacker News at 8 AM',
			/* a string holding JSON, as the original's clients sent it */
			config: JSON.stringify({
				news_urls: ['https://techcrunch.com', 'https://news.ycombinator.com'],
				hour: 8,
				categories: ['technology'],
				notification: SMS,
			}),
		},
		expectConfig: {
			news_urls: ['https://techcrunch.com', 'https://news.ycombinator.com'],
			hour: 8,
			notification: SMS,
		},
	},
	{
		key: 'reminder',
		args: {
			task_type: 'schedule',
			description: 'Daily reminder at 9 AM to check my project status',
			config: {
				type: 'daily',
				hour: 9,
				minute: 0,
				action: 'check_project_status',
				message: 'Check my project status',
				notification: SMS,
			},
		},
		expectConfig: { type: 'daily', hour: 9, minute: 0, message: 'Check my project status', notification: SMS },
	},
];

/* config contains every field of want with an equal value. */
const hasFields = (config, want) =>
	config && typeof config === 'object' && Object.entries(want).every(([k, v]) => isDeepStrictEqual(config[k], v));

// ---- tool call helpers ------------------------------------------------------------------

/* A successful tool result in the original's shape; returns its data. */
function checkSuccess(r, action, what) {
	const sc = r?.structuredContent;
	if (!check(r && !r.isError, `${what}: success, not isError`, r)) return undefined;
	check(sc && typeof sc === 'object', `${what}: structuredContent present`, r);
	check(sc?.status === 'success', `${what}: status "success"`, sc);
	check(sc?.action === action, `${what}: action "${action}"`, sc?.action);
	check(typeof sc?.timestamp === 'string' && LOCAL_TS.test(sc.timestamp), `${what}: timestamp is local ISO`, sc?.timestamp);
	check(r.content?.[0]?.type === 'text', `${what}: first content is text`, r.content);
	check(isDeepStrictEqual(parseJson(r.content?.[0]?.text), sc), `${what}: JSON text equals structuredContent`, r.content?.[0]?.text);
	return sc?.data;
}

/* An isError result whose text mentions every word of `mentions`. */
function checkError(r, mentions, what) {
	if (!check(r?.isError === true, `${what}: isError`, r)) return;
	const text = textOf(r);
	check(text.length > 0, `${what}: has an error message`, r);
	for (const m of mentions) check(text.includes(m), `${what}: message mentions '${m}'`, text);
	const j = parseJson(text);
	if (j !== undefined) check(j.status === 'error' && typeof j.error === 'string', `${what}: error JSON is {status:"error", error}`, j);
}

async function call(c, name, args) {
	return c.client.callTool({ name, arguments: args });
}

/* The request must fail with a JSON-RPC error of one of `codes`. */
async function expectRpcError(promise, codes, what) {
	try {
		const r = await promise;
		check(false, `${what}: fails with JSON-RPC error ${codes.join(' or ')}`, r);
		return undefined;
	} catch (err) {
		check(err instanceof McpError && codes.includes(err.code), `${what}: JSON-RPC error ${codes.join(' or ')}`, err);
		check(typeof err.message === 'string' && err.message.length > 20, `${what}: error message says what was wrong`, err);
		return err;
	}
}

async function listAll(c, method, key) {
	const items = [];
	let cursor;
	for (let page = 0; page < 50; page++) {
		const r = await c.client[method](cursor ? { cursor } : undefined);
		items.push(...r[key]);
		if (!r.nextCursor) break;
		cursor = r.nextCursor;
	}
	return items;
}

async function readJson(c, uri) {
	const r = await c.client.readResource({ uri });
	const first = r.contents?.[0];
	check(r.contents?.length === 1, `read ${uri}: one content item`, r.contents?.length);
	check(first?.uri === uri, `read ${uri}: content uri is the uri read`, first?.uri);
	check(first?.mimeType === 'application/json', `read ${uri}: mimeType application/json`, first?.mimeType);
	const j = parseJson(first?.text);
	check(j && typeof j === 'object', `read ${uri}: text is a JSON object`, first?.text);
	return j ?? {};
}

async function listIds(c, args = {}) {
	const d = checkSuccess(await call(c, 'list_background_tasks', args), 'list_background_tasks', `list ${JSON.stringify(args)}`);
	return d?.tasks ?? [];
}

/* list_background_tasks for "default" shows exactly the expected tasks. */
async function checkList(c, what) {
	const tasks = await listIds(c);
	check(sameSet(tasks.map((t) => t.task_id), [...expected.keys()]), `${what}: list shows exactly the ${expected.size} expected tasks`, {
		listed: tasks.map((t) => `${t.task_id} ${t.status}`),
		expected: [...expected].map(([id, t]) => `${id} ${t.status}`),
	});
	for (const t of tasks) {
		const want = expected.get(t.task_id);
		if (!want) continue;
		check(t.status === want.status && t.task_type === want.type, `${what}: task ${t.task_id} is ${want.type} ${want.status}`, t);
		check(t.config && typeof t.config === 'object', `${what}: task ${t.task_id} has its config`, t);
	}
	return tasks;
}

// ---- the suite, once per transport ---------------------------------------------------------

async function suite(c, other) {
	const ids = {};
	let fenceId;
	let fenceStatus = 'active';

	await step('handshake', async () => {
		const info = c.client.getServerVersion();
		check(info?.name === 'ambient', 'serverInfo.name is "ambient"', info);
		const caps = c.client.getServerCapabilities();
		check(caps?.tools, 'tools capability', caps);
		check(caps?.resources?.subscribe === true, 'resources.subscribe capability', caps);
		check(caps?.prompts, 'prompts capability', caps);
		check((c.client.getInstructions() ?? '').includes('create_background_task'), 'instructions mention create_background_task', c.client.getInstructions());
		check(isDeepStrictEqual(await c.client.ping(), {}), 'ping returns {}');
		check(isDeepStrictEqual(await c.client.setLoggingLevel('warning'), {}), 'logging/setLevel returns {}');
	});

	await step('tools/list', async () => {
		const tools = await listAll(c, 'listTools', 'tools');
		/* the SDK caches output validators per tools/list page; keep all pages */
		c.client.cacheToolMetadata(tools);
		const names = tools.map((t) => t.name);
		for (const n of TOOLS) check(names.includes(n), `tool ${n} is listed`, names);
		check(new Set(names).size === names.length, 'tool names are unique', names);
		for (const t of tools) {
			check(/^[A-Za-z0-9_.-]{1,128}$/.test(t.name), `tool ${t.name}: valid name`);
			check(typeof t.description === 'string' && t.description.length > 20, `tool ${t.name}: has a description`, t.description);
			check(t.inputSchema?.type === 'object', `tool ${t.name}: inputSchema is an object schema`, t.inputSchema);
			check(t.outputSchema?.type === 'object', `tool ${t.name}: has an object outputSchema`, t.outputSchema);
		}
		const create = tools.find((t) => t.name === 'create_background_task');
		check(sameSet(create?.inputSchema?.required ?? [], ['task_type', 'description', 'config']), 'create_background_task requires task_type, description, config', create?.inputSchema?.required);
		check(sameSet(Object.keys(create?.inputSchema?.properties ?? {}), ['task_type', 'description', 'config', 'callback_url', 'user_id']), "create_background_task takes the seed's five parameters", create?.inputSchema?.properties);
	});

	await step("the seed's three usage examples", async () => {
		for (const t of SEED_TASKS) {
			const d = checkSuccess(await call(c, 'create_background_task', t.args), 'create_background_task', `create ${t.key}`);
			if (!d) continue;
			check(UUID.test(d.task_id), `create ${t.key}: task_id is a UUID`, d.task_id);
			check(d.task_type === t.args.task_type, `create ${t.key}: task_type`, d.task_type);
			check(d.description === t.args.description, `create ${t.key}: description`, d.description);
			check(d.status === 'active', `create ${t.key}: status active`, d.status);
			if (d.config !== undefined) check(hasFields(d.config, t.expectConfig), `create ${t.key}: stored config keeps the fields`, d.config);
			ids[t.key] = d.task_id;
			expected.set(d.task_id, { type: t.args.task_type, status: 'active', description: t.args.description });
		}
		const r = await call(c, 'create_background_task', SEED_TASKS[0].args);
		check(r.structuredContent?.message?.includes('created and will run in background'), "create: the original's message", r.structuredContent?.message);
		/* a second, identical call makes a second task; delete it again */
		const dup = r.structuredContent?.data?.task_id;
		check(dup && dup !== ids.monitor, 'create: a second call makes a new task', dup);
		if (dup) checkSuccess(await call(c, 'delete_background_task', { task_id: dup }), 'delete_background_task', 'delete the duplicate');
	});

	await step('defaults filled in', async () => {
		const d = checkSuccess(
			await call(c, 'get_task', { task_id: ids.monitor }),
			'get_task',
			'get_task monitor',
		);
		check(d?.task?.task_id === ids.monitor && d?.task?.status === 'active', 'get_task: the monitor, active', d?.task);
		check(hasFields(d?.task?.config, SEED_TASKS[0].expectConfig), 'get_task: config as created', d?.task?.config);
		check(d?.task?.callback_url === 'http://localhost:8000/process_background_feedback', 'get_task: callback_url', d?.task?.callback_url);
		check(d?.task?.user_id === 'default', 'get_task: user_id "default"', d?.task?.user_id);
		const g = checkSuccess(await call(c, 'get_task', { task_id: ids.digest }), 'get_task', 'get_task digest');
		check(g?.task?.config?.minute === 0, 'news_digest: minute defaults to 0', g?.task?.config);
	});

	if (c.name === 'stdio') await step('list (3 tasks)', async () => {
		const tasks = await checkList(c, 'after creating three');
		check(tasks.length === 3, 'list shows 3 tasks', tasks.length);
		const d = (await call(c, 'list_background_tasks', {})).structuredContent?.data;
		check(d?.total_tasks === 3, 'total_tasks is 3', d?.total_tasks);
	});
	else await step('list (other transport tasks too)', () => checkList(c, 'after creating three'));

	/* a task of its own for fences (see fence()), untouched by the other steps */
	await step('fence task', async () => {
		const d = checkSuccess(
			await call(c, 'create_background_task', { task_type: 'schedule', description: `fence ${c.name}`, config: { type: 'interval', minutes: 60 } }),
			'create_background_task',
			'create fence task',
		);
		fenceId = d?.task_id;
		if (fenceId) expected.set(fenceId, { type: 'schedule', status: 'active', description: `fence ${c.name}` });
	});

	await step('pause, resume', async () => {
		let d = checkSuccess(await call(c, 'pause_background_task', { task_id: ids.monitor, reason: 'testing' }), 'pause_background_task', 'pause');
		check(d?.task_id === ids.monitor && d?.status === 'paused' && d?.changed === true, 'pause: paused, changed', d);
		expected.get(ids.monitor).status = 'paused';
		const paused = await listIds(c, { status: 'paused' });
		check(paused.some((t) => t.task_id === ids.monitor) && paused.every((t) => t.status === 'paused'), 'list status=paused shows it', paused);
		d = checkSuccess(await call(c, 'pause_background_task', { task_id: ids.monitor }), 'pause_background_task', 'pause again');
		check(d?.status === 'paused' && d?.changed === false, 'pause again: nothing changed', d);
		d = checkSuccess(await call(c, 'resume_background_task', { task_id: ids.monitor }), 'resume_background_task', 'resume');
		check(d?.status === 'active' && d?.changed === true, 'resume: active, changed', d);
		expected.get(ids.monitor).status = 'active';
		const ev = checkSuccess(await call(c, 'get_task_events', { task_id: ids.monitor }), 'get_task_events', 'events');
		const typesSeen = (ev?.events ?? []).map((e) => e.type);
		check(isDeepStrictEqual(typesSeen, ['task_created', 'task_paused', 'task_resumed']), 'events: created, paused, resumed', typesSeen);
		check(ev?.count === typesSeen.length && ev?.has_more === false, 'events: count, has_more', ev);
		check((ev?.events ?? []).every((e) => e.task_id === ids.monitor && Number.isInteger(e.position)), 'events carry task_id and position', ev?.events);
	});

	await step('update, run now', async () => {
		let d = checkSuccess(
			await call(c, 'update_background_task', { task_id: ids.digest, description: 'Tech news digest, 8 AM' }),
			'update_background_task',
			'update',
		);
		check(d?.changed === true && isDeepStrictEqual(d?.changed_fields, ['description']), 'update: description changed', d);
		check(d?.task?.description === 'Tech news digest, 8 AM', 'update: new description', d?.task);
		expected.get(ids.digest).description = 'Tech news digest, 8 AM';
		d = checkSuccess(await call(c, 'run_task_now', { task_id: ids.reminder }), 'run_task_now', 'run now');
		check(d?.requested === true && d?.event_type === 'task_run_requested' && d?.task_id === ids.reminder, 'run now: requested', d);
		d = checkSuccess(await call(c, 'get_recent_events', { limit: 3 }), 'get_recent_events', 'recent');
		const pos = (d?.events ?? []).map((e) => e.position);
		check(pos.length === 3 && pos.every((p, i) => i === 0 || p < pos[i - 1]), 'recent: 3 events, newest first', pos);
		check(d?.events?.[0]?.type === 'task_run_requested', 'recent: the run request is the newest', d?.events?.[0]);
	});

	await step('delete', async () => {
		elicitations = [];
		const d = checkSuccess(await call(c, 'delete_background_task', { task_id: ids.reminder }), 'delete_background_task', 'delete');
		check(d?.status === 'deleted' && d?.changed === true, 'delete: deleted', d);
		check(elicitations.length === 1 && /delete_background_task/.test(elicitations[0]?.message ?? ''),
			'delete: the server asked for a confirmation (elicitation)', elicitations);
		expected.delete(ids.reminder);
		await checkList(c, 'after delete');
		const g = checkSuccess(await call(c, 'get_task', { task_id: ids.reminder }), 'get_task', 'get deleted task');
		check(g?.task?.status === 'deleted', 'get_task: status deleted', g?.task);
		checkError(await call(c, 'pause_background_task', { task_id: ids.reminder }), ['deleted'], 'pause a deleted task');
	});

	await step('status', async () => {
		const d = checkSuccess(await call(c, 'get_event_sourcing_status', {}), 'get_event_sourcing_status', 'status');
		check(typeof d?.service_running === 'boolean', 'status: service_running is a boolean', d);
		check(d?.total_tasks === expected.size + otherUsersTasks, `status: total_tasks ${expected.size + otherUsersTasks}`, d);
		check(d?.active_tasks + d?.paused_tasks === d?.total_tasks, 'status: active + paused = total', d);
		check(TASK_TYPES.every((t) => Number.isInteger(d?.task_types?.[t])), 'status: a count per task type', d?.task_types);
	});

	await step('bad input', async () => {
		checkError(
			await call(c, 'create_background_task', { task_type: 'web_scraper', description: 'x', config: {} }),
			['task_type', 'web_monitor'],
			'unknown task_type',
		);
		checkError(
			await call(c, 'create_background_task', { task_type: 'web_monitor', description: 'no urls', config: { keywords: ['AI'] } }),
			['urls', 'https://'],
			'web_monitor without urls (message names the field and shows a working config)',
		);
		checkError(
			await call(c, 'create_background_task', { task_type: 'web_monitor', description: 'bad json', config: '{"urls": [' }),
			['Invalid JSON in config'],
			'config string that is not JSON',
		);
		checkError(
			await call(c, 'create_background_task', { task_type: 'schedule', config: { type: 'daily', hour: 9 } }),
			['description'],
			'missing description',
		);
		checkError(
			await call(c, 'create_background_task', { task_type: 'schedule', description: 'bad hour', config: { type: 'daily', hour: 25 } }),
			['hour'],
			'schedule hour 25',
		);
		checkError(
			await call(c, 'pause_background_task', { task_id: '00000000-0000-4000-8000-000000000000' }),
			['not found', 'list_background_tasks'],
			'pause an unknown task',
		);
		checkError(await call(c, 'resume_background_task', {}), ['task_id'], 'resume without task_id');
		checkError(await call(c, 'get_task', { task_id: 42 }), ['task_id'], 'task_id of the wrong type');
		checkError(await call(c, 'list_background_tasks', { colour: 'red' }), ['colour'], 'unknown argument');
		checkError(
			await call(c, 'update_background_task', { task_id: ids.digest }),
			['description', 'config'],
			'update with nothing to change',
		);
		/* 2025-11-25 server/tools: an unknown tool is a protocol error (-32602);
		 * SDK v1 servers answer isError.  Either way the message names it. */
		try {
			const r = await call(c, 'no_such_tool', {});
			check(r.isError === true && textOf(r).includes('no_such_tool'), 'unknown tool: isError naming the tool', r);
		} catch (err) {
			check(err instanceof McpError && err.code === -32602 && err.message.includes('no_such_tool'), 'unknown tool: -32602 naming the tool', err);
		}
		await checkList(c, 'after bad input (nothing was created)');
	});

	await step('other users', async () => {
		const d = checkSuccess(
			await call(c, 'create_background_task', {
				task_type: 'threshold_watch',
				description: 'Bitcoin above 50000',
				config: { metric: 'bitcoin_price', threshold: 50000, check_interval_minutes: 15, notification: SMS },
				user_id: `alice-${c.name}`,
			}),
			'create_background_task',
			'create for alice',
		);
		if (!d) return;
		otherUsersTasks++;
		const mine = await listIds(c, { user_id: `alice-${c.name}` });
		check(mine.length === 1 && mine[0].task_id === d.task_id, "alice's list shows only hers", mine);
		await checkList(c, "default's list does not show alice's task");
		const all = await listIds(c, { user_id: 'admin' });
		check(all.some((t) => t.task_id === d.task_id) && [...expected.keys()].every((id) => all.some((t) => t.task_id === id)), 'admin sees everyone\'s tasks', all.length);
		checkError(await call(c, 'pause_background_task', { task_id: d.task_id }), ['not found or access denied'], "default pauses alice's task");
		check(d.config?.threshold === 50000 || d.config === undefined, 'threshold kept', d.config);
	});

	await step('resources', async () => {
		const res = await listAll(c, 'listResources', 'resources');
		const uris = res.map((r) => r.uri);
		for (const u of RESOURCES) check(uris.includes(u), `resource ${u} is listed`, uris);
		for (const r of res) check(typeof r.name === 'string' && r.name.length > 0, `resource ${r.uri}: has a name`, r);
		const tpl = await listAll(c, 'listResourceTemplates', 'resourceTemplates');
		const tplUris = tpl.map((t) => t.uriTemplate);
		for (const u of TEMPLATES) check(tplUris.includes(u), `template ${u} is listed`, tplUris);

		for (const u of uris) await readJson(c, u); /* every listed resource reads */

		let j = await readJson(c, 'event://tasks');
		check(sameSet((j.tasks ?? []).map((t) => t.task_id), [...expected.keys()]), 'event://tasks: exactly the expected tasks', j.tasks?.map((t) => t.task_id));
		check(j.total === expected.size, 'event://tasks: total', j.total);
		j = await readJson(c, 'event://tasks/active');
		const active = [...expected].filter(([, t]) => t.status === 'active').map(([id]) => id);
		check(sameSet((j.active_tasks ?? []).map((t) => t.task_id), active), 'event://tasks/active: the active ones', j.active_tasks);
		j = await readJson(c, 'event://status');
		check(j.status?.total_tasks === expected.size + otherUsersTasks, 'event://status: total_tasks', j.status);
		j = await readJson(c, 'event://config/examples');
		check(TASK_TYPES.every((t) => j.examples?.[t]?.example_config), 'event://config/examples: an example per type', Object.keys(j.examples ?? {}));
		for (const t of TASK_TYPES) {
			const k = await readJson(c, `event://tasks/by-type/${t}`);
			const want = [...expected].filter(([, x]) => x.type === t).map(([id]) => id);
			check(sameSet((k.tasks ?? []).map((x) => x.task_id), want), `event://tasks/by-type/${t}: the tasks of that type`, k.tasks);
		}
		j = await readJson(c, `event://tasks/${ids.monitor}`);
		check(j.task?.task_id === ids.monitor && j.task?.task_type === 'web_monitor' && j.task?.status === 'active', 'event://tasks/{task_id}: the task', j.task);
		j = await readJson(c, `event://tasks/${ids.monitor}/events`);
		check(isDeepStrictEqual((j.events ?? []).map((e) => e.type), ['task_created', 'task_paused', 'task_resumed']), 'event://tasks/{task_id}/events: its events', j.events);
		j = await readJson(c, `event://tasks/${ids.reminder}`);
		check(j.task?.status === 'deleted', 'a deleted task reads with status deleted', j.task);

		await expectRpcError(c.client.readResource({ uri: 'event://tasks/00000000-0000-4000-8000-000000000000' }), [-32002], 'read an unknown task');
		await expectRpcError(c.client.readResource({ uri: 'event://tasks/by-type/web_scraper' }), [-32002, -32602], 'read an unknown task type');
		await expectRpcError(c.client.readResource({ uri: 'event://nothing/here' }), [-32002, -32602], 'read an unknown uri');

		const comp = await c.client.complete({
			ref: { type: 'ref/resource', uri: 'event://tasks/{task_id}' },
			argument: { name: 'task_id', value: ids.monitor.slice(0, 8) },
		});
		check(comp.completion?.values?.includes(ids.monitor), 'completion of task_id offers the task', comp);
		const ct = await c.client.complete({
			ref: { type: 'ref/resource', uri: 'event://tasks/by-type/{task_type}' },
			argument: { name: 'task_type', value: 'news' },
		});
		check(isDeepStrictEqual(ct.completion?.values, ['news_digest']), 'completion of task_type "news"', ct);
	});

	await step('prompts', async () => {
		const prompts = await listAll(c, 'listPrompts', 'prompts');
		const names = prompts.map((p) => p.name);
		for (const n of PROMPTS) check(names.includes(n), `prompt ${n} is listed`, names);
		const mon = prompts.find((p) => p.name === 'monitor_website');
		check((mon?.arguments ?? []).some((a) => a.name === 'url' && a.required), 'monitor_website: url is required', mon?.arguments);

		const uses = [
			['monitor_website', { url: 'https://techcrunch.com', keywords: 'artificial intelligence, AI, machine learning', interval_minutes: '30', phone_number: PHONE }, ['web_monitor', 'techcrunch.com', PHONE]],
			['daily_news_digest', { sources: 'https://techcrunch.com, https://news.ycombinator.com', hour: '8', phone_number: PHONE }, ['news_digest', 'news.ycombinator.com']],
			['daily_reminder', { message: 'Check my project status', hour: '9', phone_number: PHONE }, ['schedule', 'Check my project status']],
		];
		for (const [name, args, words] of uses) {
			const r = await c.client.getPrompt({ name, arguments: args });
			const m = r.messages?.[0];
			check(r.messages?.length >= 1 && m?.role === 'user' && m?.content?.type === 'text', `prompt ${name}: a user text message`, r);
			for (const w of ['create_background_task', ...words]) check(m?.content?.text?.includes(w), `prompt ${name}: mentions ${w}`, m?.content?.text);
		}
		const d = await c.client.getPrompt({ name: 'daily_news_digest', arguments: {} });
		check(d.messages?.[0]?.content?.text?.includes('techcrunch.com'), 'daily_news_digest: default sources', d.messages?.[0]);
		await expectRpcError(c.client.getPrompt({ name: 'monitor_website', arguments: { keywords: 'AI' } }), [-32602], 'prompt without a required argument');
		await expectRpcError(c.client.getPrompt({ name: 'no_such_prompt', arguments: {} }), [-32602], 'unknown prompt');
	});

	/* The fence proves that every update for events appended before it has
	 * been delivered: the fence task's change is appended after them, the
	 * watcher reads the log in order, and the server's stream to this client
	 * keeps order.  Twice, because one batch may carry older events whose
	 * updates leave in any order next to the fence's. */
	const fenceUri = () => `event://tasks/${fenceId}`;
	async function fence() {
		for (let i = 0; i < 2; i++) {
			const from = c.updates.mark();
			fenceStatus = fenceStatus === 'active' ? 'paused' : 'active';
			const tool = fenceStatus === 'paused' ? 'pause_background_task' : 'resume_background_task';
			const r = await call(c, tool, { task_id: fenceId });
			expected.get(fenceId).status = fenceStatus;
			if (!check(!r.isError, `fence: ${tool}`, r)) return false;
			if (!check(await c.updates.wait(fenceUri(), from), `fence: update of ${fenceUri()} within ${WAIT_MS} ms`, c.updates.uris.slice(from)))
				return false;
		}
		return true;
	}

	await step('subscriptions', async () => {
		if (!fenceId) return check(false, 'no fence task');
		const subscribed = new Set();
		const subscribe = async (uri) => {
			subscribed.add(uri);
			return c.client.subscribeResource({ uri });
		};
		const firstUpdate = c.updates.mark();
		check(isDeepStrictEqual(await subscribe(fenceUri()), {}), 'subscribe returns {}');
		/* Any URI may be watched (also one that does not exist yet), as the SDK servers allow. */
		check(isDeepStrictEqual(await c.client.subscribeResource({ uri: 'event://nothing/here' }), {}), 'subscribe to a uri nothing matches yet returns {}');

		/* 1. a change made through this client */
		const uriA = `event://tasks/${ids.monitor}`;
		const alsoA = [`${uriA}/events`, 'event://status', 'event://tasks/active', 'event://tasks/by-type/web_monitor'];
		for (const uri of [uriA, ...alsoA]) await subscribe(uri);
		let from = c.updates.mark();
		checkSuccess(await call(c, 'pause_background_task', { task_id: ids.monitor }), 'pause_background_task', 'pause subscribed task');
		expected.get(ids.monitor).status = 'paused';
		check(await c.updates.wait(uriA, from), `same client: resources/updated ${uriA}`, c.updates.uris.slice(from));
		for (const uri of alsoA) check(await c.updates.wait(uri, from), `same client: resources/updated ${uri}`, c.updates.uris.slice(from));
		for (const uri of alsoA) await c.client.unsubscribeResource({ uri });
		let j = await readJson(c, uriA);
		check(j.task?.status === 'paused', 'the subscribed task reads paused', j.task);

		/* 2. a change made by another process: `ambient task pause` */
		const uriB = `event://tasks/${ids.digest}`;
		await subscribe(uriB);
		if (!(await fence())) return;
		from = c.updates.mark();
		const cli = await ambient('task', 'pause', ids.digest);
		check(cli.code === 0, `ambient task pause ${ids.digest} exits 0`, cli);
		expected.get(ids.digest).status = 'paused';
		check(await c.updates.wait(uriB, from), `another process (ambient task pause): resources/updated ${uriB}`, c.updates.uris.slice(from));
		j = await readJson(c, uriB);
		check(j.task?.status === 'paused', 'the task paused by the CLI reads paused', j.task);

		/* 3. a change made through the other server process (other transport) */
		if (!(await fence())) return;
		from = c.updates.mark();
		checkSuccess(await call(other, 'resume_background_task', { task_id: ids.digest }), 'resume_background_task', `resume through ${other.name}`);
		expected.get(ids.digest).status = 'active';
		check(await c.updates.wait(uriB, from), `change over ${other.name}: resources/updated ${uriB}`, c.updates.uris.slice(from));

		/* 4. the task list, when the other transport creates a task */
		await subscribe('event://tasks');
		if (!(await fence())) return;
		from = c.updates.mark();
		const d = checkSuccess(
			await call(other, 'create_background_task', { task_type: 'web_monitor', description: `made over ${other.name}`, config: { urls: ['https://news.ycombinator.com'] } }),
			'create_background_task',
			`create over ${other.name}`,
		);
		if (d) expected.set(d.task_id, { type: 'web_monitor', status: 'active', description: `made over ${other.name}` });
		check(await c.updates.wait('event://tasks', from), 'resources/updated event://tasks for a task made elsewhere', c.updates.uris.slice(from));

		/* 5. after unsubscribe no more updates of that uri */
		check(isDeepStrictEqual(await c.client.unsubscribeResource({ uri: uriA }), {}), 'unsubscribe returns {}');
		if (!(await fence())) return;
		from = c.updates.mark();
		checkSuccess(await call(c, 'resume_background_task', { task_id: ids.monitor }), 'resume_background_task', 'resume unsubscribed task');
		expected.get(ids.monitor).status = 'active';
		if (!(await fence())) return;
		check(!c.updates.uris.slice(from).includes(uriA), `no update of ${uriA} after unsubscribe`, c.updates.uris.slice(from));
		await c.client.unsubscribeResource({ uri: uriB });
		await c.client.unsubscribeResource({ uri: 'event://tasks' });
		const stray = c.updates.uris.slice(firstUpdate).filter((u) => !subscribed.has(u));
		check(stray.length === 0, 'updates only for subscribed uris', stray);
	});

	return ids;
}

// ---- main -----------------------------------------------------------------------------------

const watchdog = setTimeout(() => {
	console.error(`FAIL [watchdog] the test did not finish within ${WATCHDOG_MS / 1000} s`);
	killAll();
	process.exit(1);
}, WATCHDOG_MS);

/* Stopped from outside (the runner, CTest's timeout): end what we started. */
for (const sig of ['SIGINT', 'SIGTERM'])
	process.on(sig, () => {
		console.error(`FAIL [${where}] stopped by ${sig}`);
		killAll();
		process.exit(1);
	});

let serve;
let stdio;
let http;
try {
	serve = await startServe();
	stdio = await connectStdio();
	http = await connectHttp(serve.url);
	check(true, 'connected over stdio and HTTP');

	where = 'stdio';
	const sIds = await suite(stdio, http);
	where = 'http';
	const hIds = await suite(http, stdio);

	where = 'cross-transport';
	await step('tasks made over stdio are visible over HTTP and vice versa', async () => {
		for (const [c, made] of [[http, sIds], [stdio, hIds]]) {
			for (const key of ['monitor', 'digest']) {
				const d = checkSuccess(await call(c, 'get_task', { task_id: made[key] }), 'get_task', `${c.name} reads a task made elsewhere`);
				check(d?.task?.description === expected.get(made[key])?.description, `${c.name} sees ${key} made elsewhere`, d?.task);
			}
			await checkList(c, `${c.name} lists all`);
		}
	});

	where = 'shutdown';
	await step('HTTP session end', async () => {
		await http.transport.terminateSession(); /* DELETE; 405 is fine for the SDK */
		check(http.transport.sessionId === undefined, 'session id dropped after DELETE', http.transport.sessionId);
		await http.client.close();
	});
	await step('stdio server exits when stdin closes', async () => {
		const proc = stdio.proc;
		const ended = proc ? exited(proc, 10000) : Promise.resolve(null);
		await stdio.client.close(); /* ends stdin; SIGTERM after 2 s, SIGKILL after 4 s */
		const st = await ended;
		check(st && st.code === 0 && st.signal === null, 'ambient mcp exits 0 on its own when stdin closes', st);
	});
	await step('serve stops on SIGTERM', async () => {
		serve.child.kill('SIGTERM');
		const st = await exited(serve.child, WAIT_MS);
		check(st && st.code === 0, 'ambient serve exits 0 on SIGTERM', st);
	});
	where = 'sanitizers';
	await step('no sanitizer reports', () => {
		const logs = [['ambient mcp', stdio.stderr()], ['ambient serve', fs.readFileSync(path.join(WORK, 'serve.err'), 'utf8')]];
		for (const [who, text] of logs) {
			const m = /^.*(runtime error:|AddressSanitizer|LeakSanitizer|ThreadSanitizer).*$/m.exec(text);
			check(!m, `${who} stderr has no sanitizer report`, m?.[0]);
		}
	});
} catch (err) {
	check(false, 'unexpected exception', err);
} finally {
	clearTimeout(watchdog);
	killAll();
}
if (failed && stdio?.stderr) {
	const s = stdio.stderr().trim();
	if (s) console.error(`--- ambient mcp stderr ---\n${s.slice(-4000)}`);
}
if (failed) {
	try {
		const s = fs.readFileSync(path.join(WORK, 'serve.err'), 'utf8').trim();
		if (s) console.error(`--- ambient serve stderr ---\n${s.slice(-4000)}`);
	} catch {
		/* no log */
	}
}
console.log(`sdk client_test: ${passed + failed} checks, ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
