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

"""The status of a USB device a server requests: the one definition.

``attached``: the server may have the device now (it has it, or gets it
at its next start); ``detaching``: a detach was accepted (202) and the
compute host has not finished it yet; else ``missing``, with the reason.
nova-usb's compute host records (nova_usb.records), its API's response
schema and nova-api's answer for a server on no host use these, and so do
the clients and the dashboard.

In the client package, which nova-usb requires, so that both sides import
the same words; a module that loads nothing.
"""

ATTACHED = 'attached'
DETACHING = 'detaching'
MISSING = 'missing'
STATUSES = (ATTACHED, DETACHING, MISSING)
