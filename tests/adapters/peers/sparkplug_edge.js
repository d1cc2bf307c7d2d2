// A Sparkplug B edge node for vpp's adapter tests, built on the Eclipse Tahu JavaScript client
// (npm sparkplug-client / sparkplug-payload): a peer that vpp did not write.
//
// Edge node = a vpp site, devices = its assets. Births declare every metric with a name, alias
// and datatype; DDATA sends alias only (with datatype, which sparkplug-payload needs).
// Driven line by line on stdin; reports on stdout:
//   ready                       NBIRTH and DBIRTHs published
//   rebirth                     a rebirth request arrived and the births were republished
//   dcmd <device> <json>        a device command arrived ({name: value}); an ack DDATA follows
// Commands on stdin:
//   data <device> <metric> <value>   DDATA with one metric, by alias
//   name <device> <metric> <value>   DDATA with one metric, by name
//   gap                              skip one seq number (the next message shows a gap)
//   ddeath <device>                  DDEATH
//   stop                             NDEATH then disconnect (clean shutdown)
//   quit                             exit without NDEATH (the broker sends the Will)
'use strict';
const sparkplug = require('sparkplug-client');
const readline = require('readline');

const argv = {};
for (let i = 2; i < process.argv.length; i += 2) argv[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const devices = (argv.devices || 'battery').split(',');

// Metric tables: name -> [alias, Sparkplug type]. Aliases are unique across the edge node.
const deviceMetrics = {};
devices.forEach((d, i) => {
  const base = 100 * (i + 1);
  deviceMetrics[d] = {
    'P_kW': [base + 1, 'Double'],
    'SoC_pct': [base + 2, 'Float'],
    'Available_kW': [base + 3, 'Int32'],
    'Ack/CommandId': [base + 4, 'String'],
    'Ack/Status': [base + 5, 'String'],
    'Ack/Detail': [base + 6, 'String'],
  };
});

const client = sparkplug.newClient({
  serverUrl: 'mqtt://127.0.0.1:' + argv.port,
  username: '',
  password: '',
  groupId: argv.group,
  edgeNode: argv.node,
  clientId: 'tahu-' + argv.node + '-' + process.pid,
  version: 'spBv1.0',
  publishDeath: true,
});

function say(line) { process.stdout.write(line + '\n'); }

function births() {
  client.publishNodeBirth({
    timestamp: Date.now(),
    metrics: [
      { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
      { name: 'Uptime_s', alias: 1, type: 'Int64', value: Math.floor(process.uptime()) },
    ],
  });
  for (const d of devices) {
    const metrics = [];
    for (const [name, [alias, type]] of Object.entries(deviceMetrics[d])) {
      let value = null;
      if (name === 'P_kW') value = 0.0;
      if (name === 'SoC_pct') value = 50.0;
      if (name === 'Available_kW') value = 100;
      metrics.push({ name, alias, type, value, timestamp: Date.now() });
    }
    client.publishDeviceBirth(d, { timestamp: Date.now(), metrics });
  }
}

function num(v) { return (v !== null && typeof v === 'object') ? Number(v) : v; }

client.on('birth', () => { births(); say('ready'); });

client.on('ncmd', (payload) => {
  for (const m of payload.metrics || []) {
    if (m.name === 'Node Control/Rebirth' && m.value === true) {
      births();
      say('rebirth');
    }
  }
});

client.on('dcmd', (device, payload) => {
  const values = {};
  for (const m of payload.metrics || []) values[m.name] = num(m.value);
  say('dcmd ' + device + ' ' + JSON.stringify(values));
  const t = deviceMetrics[device];
  if (!t || !values['Command/Id']) return;
  client.publishDeviceData(device, {
    timestamp: Date.now(),
    metrics: [
      { alias: t['Ack/CommandId'][0], type: 'String', value: values['Command/Id'] },
      { alias: t['Ack/Status'][0], type: 'String', value: 'ACCEPTED' },
      { alias: t['Ack/Detail'][0], type: 'String', value: 'tahu peer' },
    ],
  });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, device, metric, value] = line.trim().split(/\s+/);
  if (verb === 'data' || verb === 'name') {
    const [alias, type] = deviceMetrics[device][metric];
    const m = { type, value: type === 'String' ? value : Number(value), timestamp: Date.now() };
    if (verb === 'data') m.alias = alias; else m.name = metric;
    client.publishDeviceData(device, { timestamp: Date.now(), metrics: [m] });
    say('ok');
  } else if (verb === 'gap') {
    client.incrementSeqNum();
    say('ok');
  } else if (verb === 'ddeath') {
    client.publishDeviceDeath(device, { timestamp: Date.now() });
    say('ok');
  } else if (verb === 'stop') {
    client.stop();
    setTimeout(() => process.exit(0), 200);
  } else if (verb === 'quit') {
    process.exit(0);
  }
});
