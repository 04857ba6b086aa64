// SPDX-License-Identifier: Apache-2.0
/*
 * The pingpong example of gunicorn_thrift, served by thriftcorn:
 * ping() answers "pong", or raises AboutToShutDownException while the
 * server drains.
 */

exception AboutToShutDownException {}

service PingService {
    string ping() throws (1: AboutToShutDownException e)
}
