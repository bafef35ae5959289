// stdio_client.mjs - the client of bench/mcp_stdio: the official TypeScript
// SDK's Client over StdioClientTransport, timing sequential tool calls.
//
//   node stdio_client.mjs [options] -- COMMAND [ARGS...]
//
// Starts COMMAND as an MCP stdio server, connects (initialize), lists the
// tools (so the client validates structuredContent against the outputSchema,
// as a real client does), makes --warmup untimed calls, then --calls
// sequential callTool(--tool, --args) calls, each awaited before the next,
// and prints one grep-able line:
//
//   RESULT calls=N seconds=S rate=R p50_ms=A p99_ms=B errors=E
//
// (errors: calls that threw or returned isError).  Then it closes the
// transport, which ends the server.
//
// Options:
//   --calls N       timed calls [10000]
//   --warmup N      untimed calls first [3000] (lets Node's JIT settle)
//   --tool NAME     [list_background_tasks]
//   --args JSON     the tool's arguments [{}]
//   --seed N        before anything else, create N schedule tasks through
//                   create_background_task (untimed) [0]
//   --capture DIR   instead of timing: talk to COMMAND over a raw pipe
//                   (initialize, tools/list, one call of --tool) and write
//                   the three results, byte for byte, to DIR/initialize.json,
//                   DIR/tools.json and DIR/call.json, for the canned server
//
// The SDK comes from tools/npm/node_modules (scripts/deps.sh installs it),
// or from the node_modules folder named by $AMBIENT_NPM_MODULES.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const here = path.dirname(new URL(import.meta.url).pathname);
const modules = process.env.AMBIENT_NPM_MODULES || path.join(here, '../../tools/npm/node_modules');
const load = (p) => import(pathToFileURL(path.join(modules, p)).href);

function usage(msg) {
	console.error(`stdio_client: ${msg}`);
	console.error('usage: node stdio_client.mjs [--calls N] [--warmup N] [--tool NAME] ' +
		      '[--args JSON] [--seed N] [--capture DIR] -- COMMAND [ARGS...]');
	process.exit(2);
}

const opt = { calls: 10000, warmup: 3000, tool: 'list_background_tasks', args: {}, seed: 0,
	      capture: null };
const argv = process.argv.slice(2);
let command = null;
for (let i = 0; i < argv.length; i++) {
	const a = argv[i];
	if (a === '--') {
		command = argv.slice(i + 1);
		break;
	}
	if (i + 1 >= argv.length)
		usage(`${a} wants a value`);
	const v = argv[++i];
	if (a === '--calls' || a === '--warmup' || a === '--seed') {
		opt[a.slice(2)] = Number(v);
		if (!Number.isInteger(opt[a.slice(2)]) || opt[a.slice(2)] < 0)
			usage(`${a} wants a whole number, not ${v}`);
	} else if (a === '--tool') {
		opt.tool = v;
	} else if (a === '--args') {
		try {
			opt.args = JSON.parse(v);
		} catch (err) {
			usage(`--args is not JSON: ${err.message}`);
		}
	} else if (a === '--capture') {
		opt.capture = v;
	} else {
		usage(`unknown option ${a}`);
	}
}
if (!command || command.length === 0)
	usage('no server command after --');

const seedArgs = (i) => ({
	task_type: 'schedule',
	description: `Seed task ${i}`,
	config: { type: 'daily', hour: 9, minute: 0, message: 'Check project status' },
});

// ---- --capture: raw JSON-RPC over the pipe, results kept byte for byte ----

async function capture() {
	const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
	const waiting = new Map();
	let buf = '';
	child.stdout.setEncoding('utf8');
	child.stdout.on('data', (chunk) => {
		buf += chunk;
		let nl;
		while ((nl = buf.indexOf('\n')) >= 0) {
			const line = buf.slice(0, nl);
			buf = buf.slice(nl + 1);
			if (!line.trim())
				continue;
			const msg = JSON.parse(line);
			if (msg.id !== undefined && waiting.has(msg.id)) {
				waiting.get(msg.id)(msg);
				waiting.delete(msg.id);
			}
		}
	});
	const exited = new Promise((resolve) => child.on('exit', resolve));
	let nextId = 1;
	const request = (method, params) => new Promise((resolve, reject) => {
		const id = nextId++;
		const timer = setTimeout(() => reject(new Error(`no answer to ${method} in 30 s`)),
					 30000);
		waiting.set(id, (msg) => {
			clearTimeout(timer);
			if (msg.error)
				reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
			else
				resolve(msg.result);
		});
		child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
	});
	const init = await request('initialize', {
		protocolVersion: '2025-06-18',
		capabilities: {},
		clientInfo: { name: 'bench-capture', version: '1.0.0' },
	});
	child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) +
			  '\n');
	for (let i = 1; i <= opt.seed; i++) {
		const r = await request('tools/call',
					{ name: 'create_background_task', arguments: seedArgs(i) });
		if (r.isError)
			throw new Error(`seeding failed: ${JSON.stringify(r)}`);
	}
	const tools = await request('tools/list', {});
	const call = await request('tools/call', { name: opt.tool, arguments: opt.args });
	if (call.isError)
		throw new Error(`${opt.tool} failed: ${JSON.stringify(call)}`);
	writeFileSync(path.join(opt.capture, 'initialize.json'), JSON.stringify(init));
	writeFileSync(path.join(opt.capture, 'tools.json'), JSON.stringify(tools));
	writeFileSync(path.join(opt.capture, 'call.json'), JSON.stringify(call));
	child.stdin.end();
	const killer = setTimeout(() => child.kill('SIGTERM'), 5000);
	await exited;
	clearTimeout(killer);
}

// ---- timing through the SDK client ----

async function timed() {
	const { Client } = await load('@modelcontextprotocol/sdk/dist/esm/client/index.js');
	const { StdioClientTransport } = await load(
		'@modelcontextprotocol/sdk/dist/esm/client/stdio.js');
	const transport = new StdioClientTransport({
		command: command[0],
		args: command.slice(1),
		env: { ...process.env },
		stderr: 'inherit',
	});
	const client = new Client({ name: 'bench-stdio-client', version: '1.0.0' });
	await client.connect(transport);
	for (let i = 1; i <= opt.seed; i++) {
		const r = await client.callTool({ name: 'create_background_task',
						  arguments: seedArgs(i) });
		if (r.isError)
			throw new Error(`seeding failed: ${JSON.stringify(r)}`);
	}
	await client.listTools();
	const params = { name: opt.tool, arguments: opt.args };
	let errors = 0;
	const one = async () => {
		try {
			const r = await client.callTool(params);
			if (r.isError)
				errors++;
		} catch (err) {
			if (errors++ === 0)
				console.error(`stdio_client: ${opt.tool} failed: ${err.message}`);
		}
	};
	for (let i = 0; i < opt.warmup; i++)
		await one();
	errors = 0;
	const lat = new Float64Array(opt.calls);
	const t0 = process.hrtime.bigint();
	let prev = t0;
	for (let i = 0; i < opt.calls; i++) {
		await one();
		const t = process.hrtime.bigint();
		lat[i] = Number(t - prev) / 1e6;
		prev = t;
	}
	const seconds = Number(prev - t0) / 1e9;
	lat.sort();
	const pct = (p) => (opt.calls ? lat[Math.min(opt.calls - 1,
						      Math.max(0, Math.ceil(p / 100 * opt.calls) - 1))] : 0);
	console.log(`RESULT calls=${opt.calls} seconds=${seconds.toFixed(3)} ` +
		    `rate=${(opt.calls / seconds).toFixed(1)} p50_ms=${pct(50).toFixed(3)} ` +
		    `p99_ms=${pct(99).toFixed(3)} errors=${errors}`);
	await client.close();
}

try {
	await (opt.capture ? capture() : timed());
} catch (err) {
	console.error(`stdio_client: ${err.stack || err.message}`);
	process.exit(1);
}
