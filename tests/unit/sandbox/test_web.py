#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.


"""The sandbox's HTTP server under many clients at once."""

import contextlib
import socket

from oslotest import base

from nova_usb_sandbox import web

CLIENTS = 60


class WebServerTestCase(base.BaseTestCase):

    def test_clients_connecting_at_once_are_all_answered(self):
        """Sixty connections made before the server accepts any: with the
        standard library's backlog of 5 the kernel drops the others'
        handshakes (the connects time out) or resets them.
        """
        server = web.WebServer()
        self.addCleanup(server.stop)
        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(socket.create_connection(
                (web.HOST, server.port), timeout=5)) for _ in range(CLIENTS)]
            server.start()
            answers = []
            for client in clients:
                client.sendall(b'GET / HTTP/1.0\r\n\r\n')
                answers.append(client.recv(64).split(b'\r\n')[0])
        self.assertEqual([b'HTTP/1.0 404 Not Found'] * CLIENTS, answers)
