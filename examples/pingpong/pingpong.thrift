// SPDX-License-Identifier: Apache-2.0
/*
 * The pingpong example of gunicorn_thrift, served by thriftcorn:
 * ping() answers "pong", or raises AboutToShutDownException when the
 * server was started with about_to_shutdown=1 in its environment.
 */

exception AboutToShutDownException {}

service PingService {
    string ping() throws (1: AboutToShutDownException e)
}
