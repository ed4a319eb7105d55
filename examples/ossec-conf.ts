/**
 * An agent configured from an ossec.conf, the way Wazuh agents are: the <client> server list,
 * notify_time, time-reconnect, crypto_method and <client_buffer> come from the XML.
 *
 * Run: node dist/examples/ossec-conf.js [path/to/ossec.conf]
 * Without a path it uses the inline sample below, pointed at two local mock managers.
 */
import { readFile } from 'node:fs/promises';
import { AgentClient } from 'agentlink';
import { MockManager } from 'agentlink/testing';

const key = { id: '007', name: 'conf-agent', ip: 'any', key: 'c'.repeat(64) };
const path = process.argv[2];
const mocks: MockManager[] = [];

let xml: string;
if (path) {
  xml = await readFile(path, 'utf8');
} else {
  for (const name of ['node1', 'node2']) {
    const m = new MockManager({ keys: [key], name });
    await m.start();
    mocks.push(m);
  }
  xml = `<ossec_config>
  <client>
    <server><address>127.0.0.1</address><port>${mocks[0]!.port}</port><protocol>tcp</protocol></server>
    <server><address>127.0.0.1</address><port>${mocks[1]!.port}</port><protocol>tcp</protocol></server>
    <config-profile>debian, debian12</config-profile>
    <notify_time>10</notify_time>
    <time-reconnect>60</time-reconnect>
    <auto_restart>yes</auto_restart>
    <crypto_method>aes</crypto_method>
  </client>
  <client_buffer>
    <disabled>no</disabled>
    <queue_size>5000</queue_size>
    <events_per_second>500</events_per_second>
  </client_buffer>
</ossec_config>`;
}

const agent = AgentClient.fromOssecConf(xml, { agent: key });
console.log('servers from ossec.conf:', agent.options.servers.map((s) => `${s.address}:${s.port}/${s.protocol}`).join(', '));
console.log(`notifyTime ${agent.options.notifyTime} ms, timeReconnect ${agent.options.timeReconnect} ms`);
await agent.start();
agent.sendEvent({ location: 'ossec-conf-example', message: 'configured from XML' });
await agent.stop({ drainTimeout: 2000 });
for (const m of mocks) await m.close();
console.log('done');
