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


"""nova-usb-sandbox: a real Nova with nova-usb on this machine.

One command gives an operator or a developer a working compute API with
the extension enabled, without a DevStack: nova-api over HTTP on the
loopback interface, conductor, scheduler, placement and nova-compute with
nova-usb's driver, all in one process on embedded defaults (see
``nova_usb_sandbox.launcher``).

The package also holds what the sandbox and the test suites share, so that
there is one copy of each: the ctypes umockdev testbed (``umockdev``) and
Nova's fakelibvirt taught USB (``fakelibvirt_usb``).

Importing this package imports nothing of Nova: the test suites import
its modules before they choose Nova's concurrency mode.
"""
