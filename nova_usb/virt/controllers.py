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

"""USB controller models a guest can have, and their ports.

Kept apart from the port model (ports.py), which reads domain XML, so that
the configuration options can name the models without loading Nova's libvirt
driver.
"""

from nova_usb import exception

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
XHCI_DEFAULT_PORTS = 4
# What libvirt makes of <controller type='usb'/> without a model (Nova
# writes one when the guest needs USB), on pc and q35 machines alike.
DEFAULT_MODEL = 'piix3-uhci'
XHCI_MAX_PORTS = 15
HUB_PORTS = 8


def controller_ports(model, ports=None):
    """How many ports a controller of ``model`` that can be added has.

    ``ports`` is the requested ``ports`` attribute; only the xHCI models
    accept one. Raises UnknownControllerModel or InvalidControllerPorts.
    """
    if model not in ADDABLE_MODELS:
        raise exception.UnknownControllerModel(
            model=model, known=', '.join(ADDABLE_MODELS))
    fixed = CONTROLLER_PORTS[model]
    if fixed is not None:
        if ports is not None:
            # QEMU refuses a ports attribute on these models, whatever its
            # value, when the guest starts.
            raise exception.InvalidControllerPorts(
                model=model, reason='has %d ports; its port count cannot '
                                    'be set' % fixed)
        return fixed
    if ports is None:
        return XHCI_DEFAULT_PORTS
    if not 1 <= ports <= XHCI_MAX_PORTS:
        raise exception.InvalidControllerPorts(
            model=model, reason='takes 1 to %d ports, not %s' % (
                XHCI_MAX_PORTS, ports))
    return ports
