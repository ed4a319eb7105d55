import { describe, expect, it } from 'vitest';
import { ToolError } from '../../../src/index.js';
import { parseServersState, parseShowStat, splitCsvLine, toServerState } from '../../../src/testing/lb/index.js';

// Captured from HAProxy 2.6.12 (Debian 12) `show stat`, trailing h1/h2 columns trimmed; one server
// DOWN (refused), one with a quoted field added to exercise CSV quoting.
const SHOW_STAT = [
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,',
  'wazuh_cluster_front,FRONTEND,,,300,300,4000,300,2700,1500,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,12,,,,,,,,,,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,',
  'wazuh_cluster,node1,0,0,100,100,,100,900,500,,0,,0,0,0,0,UP,1,1,0,0,0,5,0,,1,3,1,,100,,2,0,,4,L4OK,,0,,,,,,,,,,,0,0,,,,,1,,,0,0,0,0,,,,Layer4 check passed,,2,2,3,,,,127.0.0.1:38873,,tcp,,',
  'wazuh_cluster,node2,0,0,99,99,,99,891,495,,0,,0,0,0,0,UP 1/2,1,1,0,1,0,5,0,,1,3,2,,99,,2,0,,4,L4CON,,0,,,,,,,,,,,0,0,,,,,1,"Connection refused, twice",,0,0,0,0,,,,Layer4 connection problem,,2,2,2,,,,127.0.0.1:44559,,tcp,,',
  'wazuh_cluster,node3,0,0,0,101,,101,909,505,,0,,0,0,0,0,DOWN,1,1,0,2,1,1,1,,1,3,3,,101,,2,0,,4,L4CON,,0,,,,,,,,,,,0,0,,,,,1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,2,0,,,,127.0.0.1:32867,,tcp,,',
  'wazuh_cluster,BACKEND,0,0,199,300,400,300,2700,1500,0,0,,0,0,0,0,UP,2,2,0,,1,5,0,,1,3,0,,300,,1,0,,12,,,,,,,,,,,,,,0,0,0,0,0,0,1,,,0,0,0,0,,,,,,,,,,,,,,tcp,leastconn,',
  '',
  '',
].join('\n');

const SERVERS_STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 wazuh_cluster 1 node1 127.0.0.1 2 0 1 1 12 6 3 3 6 0 0 0 - 38873 - 0 0 - - 0
3 wazuh_cluster 2 node2 127.0.0.1 2 8 1 1 3 6 3 3 6 0 0 0 - 44559 - 0 0 - - 0
3 wazuh_cluster 3 node3 127.0.0.1 0 0 1 1 2 8 2 0 6 0 0 0 - 32867 - 0 0 - - 0

`;

describe('splitCsvLine', () => {
  it('splits on commas and keeps empty fields', () => {
    expect(splitCsvLine('a,,b,')).toEqual(['a', '', 'b', '']);
  });

  it('keeps commas and doubled quotes inside a quoted field', () => {
    expect(splitCsvLine('x,"a, ""b""",y')).toEqual(['x', 'a, "b"', 'y']);
  });
});

describe('parseShowStat', () => {
  const rows = parseShowStat(SHOW_STAT);

  it('returns one typed row per frontend, server and backend line', () => {
    expect(rows.map((r) => `${r.pxname}/${r.svname}:${r.type}`)).toEqual([
      'wazuh_cluster_front/FRONTEND:frontend',
      'wazuh_cluster/node1:server',
      'wazuh_cluster/node2:server',
      'wazuh_cluster/node3:server',
      'wazuh_cluster/BACKEND:backend',
    ]);
  });

  it('reads current sessions, totals, status, check and address of a server', () => {
    const node1 = rows[1]!;
    expect(node1).toMatchObject({ scur: 100, smax: 100, stot: 100, lbtot: 100, status: 'UP', checkStatus: 'L4OK', addr: '127.0.0.1:38873' });
    expect(node1.raw.check_desc).toBe('Layer4 check passed');
  });

  it('leaves columns that do not apply undefined rather than zero', () => {
    expect(rows[0]!.qcur).toBeUndefined();
    expect(rows[0]!.status).toBe('OPEN');
  });

  it('keeps the columns after a quoted field aligned', () => {
    const node2 = rows[2]!;
    expect(node2.raw.last_chk).toBe('Connection refused, twice');
    expect(node2.addr).toBe('127.0.0.1:44559');
  });

  it('rejects a reply without the CSV header with ERR_EXTERNAL_PROGRAM', () => {
    expect(() => parseShowStat('Unknown command.\n')).toThrow(ToolError);
  });
});

describe('toServerState', () => {
  it.each([
    ['UP', 'UP'],
    ['UP 1/2', 'UP'],
    ['no check', 'UP'],
    ['DOWN', 'DOWN'],
    ['DOWN 1/2', 'DOWN'],
    ['DRAIN', 'DRAIN'],
    ['DRAIN (agent)', 'DRAIN'],
    ['MAINT', 'MAINT'],
    ['MAINT (via wazuh_cluster/node1)', 'MAINT'],
    ['NOLB', 'NOLB'],
  ] as const)('maps %j to %s', (status, state) => {
    expect(toServerState(status)).toBe(state);
  });
});

describe('parseServersState', () => {
  it('returns one row per server with operational and admin states', () => {
    const rows = parseServersState(SERVERS_STATE);
    expect(rows.map((r) => [r.srvName, r.srvOpState, r.srvAdminState, r.srvPort])).toEqual([
      ['node1', 2, 0, 38873],
      ['node2', 2, 8, 44559],
      ['node3', 0, 0, 32867],
    ]);
    expect(rows[0]!.beName).toBe('wazuh_cluster');
    expect(rows[0]!.raw.srv_check_status).toBe('6');
  });

  it('rejects a reply without the header', () => {
    expect(() => parseServersState("Can't find backend.\n")).toThrow(ToolError);
  });
});
