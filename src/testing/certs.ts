/**
 * Fixed TLS certificates for tests: a CA, a server certificate signed by it and a client
 * certificate signed by it. `MockAuthd` uses the server pair by default.
 *
 * **Warning: for tests only.** These private keys are published with the package, so anybody can
 * impersonate these certificates. Never use them to protect a real manager or agent.
 *
 * All are EC P-256 / SHA-256, valid from 2000-01-01 to 2125-01-01, made once with the `openssl` CLI
 * (`openssl ca -startdate 20000101000000Z -enddate 21250101000000Z`).
 *
 * @module
 */


/** Test CA certificate (`CN=agentlink test CA`): pass it as `ca` to verify {@link TEST_SERVER_CERT} or {@link TEST_CLIENT_CERT}. Tests only: its key is public. */
export const TEST_CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBnzCCAUagAwIBAgICEAAwCgYIKoZIzj0EAwIwNjEYMBYGA1UECgwPYWdlbnRs
aW5rIHRlc3RzMRowGAYDVQQDDBFhZ2VudGxpbmsgdGVzdCBDQTAgFw0wMDAxMDEw
MDAwMDBaGA8yMTI1MDEwMTAwMDAwMFowNjEYMBYGA1UECgwPYWdlbnRsaW5rIHRl
c3RzMRowGAYDVQQDDBFhZ2VudGxpbmsgdGVzdCBDQTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABPhw/0ihxvDbCqeyqmd5cRDHT/IrtEq3SNQvdxhq3qqeGm1c9cqF
HY2X+HTgUPI8G+/HGl3IouVfHTA3l1yC2f2jQjBAMA8GA1UdEwEB/wQFMAMBAf8w
DgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBQDBqbRk6k27OvuQMDO0c2n8UAFmDAK
BggqhkjOPQQDAgNHADBEAiBWTBOR63t+RE+s0K2C2HvgXhEw8O8VWgj7y+q2wGEG
VwIgHxosxPoVPzYr7bvYreS6hd0my8EXrnZMjVx3RQdrelc=
-----END CERTIFICATE-----
`;

/** Test server certificate signed by {@link TEST_CA_CERT}: `CN=localhost`, SAN `DNS:localhost`, `IP:127.0.0.1`, extended key usage serverAuth. Tests only. */
export const TEST_SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIB5TCCAYygAwIBAgICEAEwCgYIKoZIzj0EAwIwNjEYMBYGA1UECgwPYWdlbnRs
aW5rIHRlc3RzMRowGAYDVQQDDBFhZ2VudGxpbmsgdGVzdCBDQTAgFw0wMDAxMDEw
MDAwMDBaGA8yMTI1MDEwMTAwMDAwMFowLjEYMBYGA1UECgwPYWdlbnRsaW5rIHRl
c3RzMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AARLKCxCXVAh3PtM7HycQ2Hxh8rjAChRic/0WNlAe/ZVPUOzYH1xFTqUwmA39T29
v2OHFET+ehK00nuR99XFACKco4GPMIGMMAkGA1UdEwQCMAAwDgYDVR0PAQH/BAQD
AgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcE
fwAAATAdBgNVHQ4EFgQUBaw/bsMpNXnc1ykZKwPgvLk+vEIwHwYDVR0jBBgwFoAU
Awam0ZOpNuzr7kDAztHNp/FABZgwCgYIKoZIzj0EAwIDRwAwRAIgbesFi3t2Ig6o
6AIYowyvyzBG0REktsxjknafbXYqi/YCIDn3KuUHdr+zDp610S+8LjPEgTE7Iss3
Tp9PVFOq9Qn5
-----END CERTIFICATE-----
`;

/** Private key (PKCS#8 PEM) of {@link TEST_SERVER_CERT}. Publicly known: tests only. */
export const TEST_SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgA7dZbKep1eNBxQ87
6qAVMsoypxTS7zYL+70OyI0sVVahRANCAARLKCxCXVAh3PtM7HycQ2Hxh8rjAChR
ic/0WNlAe/ZVPUOzYH1xFTqUwmA39T29v2OHFET+ehK00nuR99XFACKc
-----END PRIVATE KEY-----
`;

/** Test client (agent) certificate signed by {@link TEST_CA_CERT}: `CN=agent1`, extended key usage clientAuth. Tests only. */
export const TEST_CLIENT_CERT = `-----BEGIN CERTIFICATE-----
MIIBxjCCAWugAwIBAgICEAIwCgYIKoZIzj0EAwIwNjEYMBYGA1UECgwPYWdlbnRs
aW5rIHRlc3RzMRowGAYDVQQDDBFhZ2VudGxpbmsgdGVzdCBDQTAgFw0wMDAxMDEw
MDAwMDBaGA8yMTI1MDEwMTAwMDAwMFowKzEYMBYGA1UECgwPYWdlbnRsaW5rIHRl
c3RzMQ8wDQYDVQQDDAZhZ2VudDEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQD
qSx091VLsAVE8x6vVpqBZgJkJy5/1LKVXuD5hD5Z3YE4z3e6fkk3pqvkuL6Pi5XS
U+5x10vN1x6ld2C7NZ9zo3IwcDAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIHgDAT
BgNVHSUEDDAKBggrBgEFBQcDAjAdBgNVHQ4EFgQUpmqXGsXImT3kU6pMvhK6hQ68
BYYwHwYDVR0jBBgwFoAUAwam0ZOpNuzr7kDAztHNp/FABZgwCgYIKoZIzj0EAwID
SQAwRgIhAL25orLOQzi0efVZiN4GOqoWImlVQW4r+oa1z9Y4C6hfAiEA8cXVN6a2
vGu6sFzr1v/jVdOx/WBTEhiXoz0BrZM9fCs=
-----END CERTIFICATE-----
`;

/** Private key (PKCS#8 PEM) of {@link TEST_CLIENT_CERT}. Publicly known: tests only. */
export const TEST_CLIENT_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgM86Rcrrwq4WfiYaB
6porBOjSwduBImcj0xBDqW31AF2hRANCAAQDqSx091VLsAVE8x6vVpqBZgJkJy5/
1LKVXuD5hD5Z3YE4z3e6fkk3pqvkuL6Pi5XSU+5x10vN1x6ld2C7NZ9z
-----END PRIVATE KEY-----
`;
