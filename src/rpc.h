/* SPDX-License-Identifier: MIT */
/*
 * CRIU's RPC (criu_req/criu_resp over SOCK_SEQPACKET), served by `ferry service` for each
 * connection and by `ferry swrk` on an inherited socket (see rpc.c).
 */
#ifndef FERRY_RPC_H
#define FERRY_RPC_H

/*
 * Answer the requests of the client on sk until it closes, or after a request without
 * keep_open. 0, or -errno when the connection failed (a failed request is answered).
 */
int rpc_serve(int sk);

#endif
