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

"""The USB controller models a server can be given, and their ports: the
one definition.

nova-usb's API and compute driver (nova_usb.virt.controllers, the port
model, the ``[usb]`` options) and its clients (the dashboard's forms)
import this, so that what a client offers is what nova-api accepts. In the
client package, which nova-usb requires; a module that loads nothing.
"""

# Ports of each controller model (libvirt's
# virDomainUSBAddressControllerModelToPorts). None: the ``ports`` attribute
# decides, XHCI_DEFAULT_PORTS when absent. The ich9-uhci companions lend
# their ports to the ich9-ehci1 they sit beside and have none of their own.
CONTROLLER_PORTS = {
    'piix3-uhci': 2,
    'piix4-uhci': 2,
    'vt82c686b-uhci': 2,
    'pci-ohci': 3,
    'ehci': 6,
    'ich9-ehci1': 6,
    'ich9-uhci1': 0,
    'ich9-uhci2': 0,
    'ich9-uhci3': 0,
    'nec-xhci': None,
    'qemu-xhci': None,
}
# The VIA south bridge's controller exists only in QEMU builds for MIPS and
# PowerPC boards; x86 QEMU refuses it at start ("USB controller model
# 'vt82c686b-uhci' not supported in this QEMU binary").
_NOT_ON_X86 = ('vt82c686b-uhci',)
# Models that can be added to a server: every model that owns ports and
# that x86 QEMU has.
ADDABLE_MODELS = tuple(sorted(m for m, p in CONTROLLER_PORTS.items()
                              if p != 0 and m not in _NOT_ON_X86))
# The port count of an xHCI controller without a ``ports`` attribute, and
# the most it may be given.
XHCI_DEFAULT_PORTS = 4
XHCI_MAX_PORTS = 15
