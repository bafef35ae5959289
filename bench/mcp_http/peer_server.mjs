// peer_server.mjs - the peer of bench/mcp_http: the same two tools as ambient
// (create_background_task, list_background_tasks), with the same argument
// shapes and result shapes, built the way the official TypeScript SDK
// documents a stateless Streamable HTTP server: McpServer +
// StreamableHTTPServerTransport, a new server and transport per request
// (the SDK's examples/server/simpleStatelessStreamableHttp), JSON responses
// (enableJsonResponse), on the SDK's createMcpExpressApp (express.json and
// localhost Host checking, as ambient checks Host too).  Tasks live in one
// in-memory Map shared by all requests: nothing is written to disk.
//
// Usage: node peer_server.mjs [PORT]      (default 0: any free port)
// Prints "listening http://127.0.0.1:PORT/mcp" once bound.  SIGTERM stops it.
//
// The SDK comes from tools/npm/node_modules (installed by scripts/deps.sh),
// or from the node_modules folder named by $AMBIENT_NPM_MODULES.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const modules = process.env.AMBIENT_NPM_MODULES || path.join(here, '../../tools/npm/node_modules');
const load = (p) => import(pathToFileURL(path.join(modules, p)).href);

const { McpServer } = await load('@modelcontextprotocol/sdk/dist/esm/server/mcp.js');
const { StreamableHTTPServerTransport } = await load(
	'@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js');
const { createMcpExpressApp } = await load('@modelcontextprotocol/sdk/dist/esm/server/express.js');
const z = await load('zod/v4/index.js');

const DEFAULT_CALLBACK_URL = 'http://localhost:8000/process_background_feedback';
const TASK_TYPES = ['web_monitor', 'schedule', 'news_digest', 'threshold_watch'];

// The defaults ambient fills in (ARCHITECTURE.md: web_monitor every 30 min,
// threshold every 15 min, digest at 08:00).
const DEFAULTS = {
	web_monitor: { keywords: [], keywords_mode: 'any', check_interval_minutes: 30 },
	schedule: {},
	news_digest: { news_urls: ['https://techcrunch.com', 'https://news.ycombinator.com'],
		       hour: 8, minute: 0, max_items: 10 },
	threshold_watch: { comparison: 'above', check_interval_minutes: 15 },
};

const tasks = new Map(); // task_id -> task

// Server local time without zone, like Python's datetime.now().isoformat().
function now() {
	const d = new Date();
	return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, -1);
}

function success(action, data, message) {
	const o = { status: 'success', action, data, message, timestamp: now() };
	return { content: [{ type: 'text', text: JSON.stringify(o) }], structuredContent: o };
}

function failure(action, error) {
	const o = { status: 'error', action, error, timestamp: now() };
	return { content: [{ type: 'text', text: JSON.stringify(o) }], isError: true };
}

const taskType = z.enum(TASK_TYPES);
const summary = z.object({
	task_id: z.string(),
	task_type: taskType,
	description: z.string(),
	status: z.enum(['active', 'paused']),
	created_at: z.string().optional(),
	last_check: z.string().nullable().optional(),
	config: z.record(z.string(), z.any()),
	user_id: z.string().optional(),
	callback_url: z.string().optional(),
	paused_reason: z.string().optional(),
});
const envelope = (action, data) => ({
	status: z.literal('success'),
	action: z.literal(action),
	data,
	message: z.string().optional(),
	timestamp: z.string(),
});

function createTool(args) {
	const action = 'create_background_task';
	let config = args.config;
	if (typeof config === 'string') {
		try {
			config = JSON.parse(config);
		} catch (err) {
			return failure(action, `Invalid JSON in config: ${err.message}`);
		}
	}
	if (config === null || typeof config !== 'object' || Array.isArray(config))
		return failure(action, 'config must be a JSON object');
	if (args.task_type === 'web_monitor' && !Array.isArray(config.urls))
		return failure(action, 'config.urls is required for web_monitor');
	if (args.task_type === 'schedule' && typeof config.type !== 'string')
		return failure(action, 'config.type is required for schedule');
	const task = {
		task_id: randomUUID(),
		task_type: args.task_type,
		description: args.description,
		status: 'active',
		created_at: now(),
		last_check: null,
		config: { ...DEFAULTS[args.task_type], ...config },
		user_id: args.user_id || 'default',
		callback_url: args.callback_url || DEFAULT_CALLBACK_URL,
	};
	tasks.set(task.task_id, task);
	const { last_check, ...data } = task;
	return success(action, data,
		       `Background task '${task.description}' created and will run in background`);
}

function listTool(args) {
	const user = args.user_id || 'default';
	const out = [];
	for (const t of tasks.values()) {
		if (user !== 'admin' && t.user_id !== user)
			continue;
		if (args.status && t.status !== args.status)
			continue;
		if (args.task_type && t.task_type !== args.task_type)
			continue;
		out.push({ ...t, config: structuredClone(t.config) });
	}
	return success('list_background_tasks', { tasks: out, total_tasks: out.length },
		       `${out.length} background task${out.length === 1 ? '' : 's'}`);
}

function getServer() {
	const server = new McpServer({ name: 'peer-ambient', version: '1.0.0' });
	server.registerTool('create_background_task', {
		description: 'Create a background task that keeps running on the server.',
		inputSchema: {
			task_type: taskType,
			description: z.string().min(1).max(1000),
			config: z.union([z.record(z.string(), z.any()), z.string()]),
			callback_url: z.string().optional(),
			user_id: z.string().optional(),
		},
		outputSchema: envelope('create_background_task', z.object({
			task_id: z.string(),
			description: z.string(),
			task_type: taskType,
			status: z.literal('active'),
			config: z.record(z.string(), z.any()).optional(),
			user_id: z.string().optional(),
			callback_url: z.string().optional(),
			created_at: z.string().optional(),
		})),
		annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false,
			       openWorldHint: true },
	}, async (args) => createTool(args));
	server.registerTool('list_background_tasks', {
		description: "List the user's background tasks with their config and status.",
		inputSchema: {
			user_id: z.string().optional(),
			status: z.enum(['active', 'paused']).optional(),
			task_type: taskType.optional(),
		},
		outputSchema: envelope('list_background_tasks', z.object({
			tasks: z.array(summary),
			total_tasks: z.number().int(),
		})),
		annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true,
			       openWorldHint: false },
	}, async (args) => listTool(args));
	return server;
}

const app = createMcpExpressApp();
app.post('/mcp', async (req, res) => {
	const server = getServer();
	try {
		const transport = new StreamableHTTPServerTransport({
			sessionIdGenerator: undefined,
			enableJsonResponse: true,
		});
		await server.connect(transport);
		await transport.handleRequest(req, res, req.body);
		res.on('close', () => {
			transport.close();
			server.close();
		});
	} catch (error) {
		console.error('peer: error handling MCP request:', error);
		if (!res.headersSent)
			res.status(500).json({ jsonrpc: '2.0', id: null,
					       error: { code: -32603, message: 'Internal server error' } });
	}
});
const notAllowed = (req, res) => {
	res.writeHead(405).end(JSON.stringify({
		jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Method not allowed.' },
	}));
};
app.get('/mcp', notAllowed);
app.delete('/mcp', notAllowed);

const port = Number(process.argv[2] || 0);
const listener = app.listen(port, '127.0.0.1', (error) => {
	if (error) {
		console.error('peer: cannot listen:', error);
		process.exit(1);
	}
	console.log(`listening http://127.0.0.1:${listener.address().port}/mcp`);
});
const stop = () => {
	listener.close();
	process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
