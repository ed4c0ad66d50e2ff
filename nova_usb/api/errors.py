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

"""Refusals, turned into Nova faults with the right code and a message a
person can act on.

Nova's fault wrapper would keep a NovaException's code but drop its message
(it shows messages only of exceptions marked safe), and a method's
expected_errors turns any other exception into a 500. So every refusal is
converted here, explicitly, into the webob exception of its code.
"""

import contextlib

from nova import exception as nova_exception
import oslo_messaging as messaging
import webob

from nova_usb import exception

HTTP_ERRORS = {
    400: webob.exc.HTTPBadRequest,
    403: webob.exc.HTTPForbidden,
    404: webob.exc.HTTPNotFound,
    409: webob.exc.HTTPConflict,
    503: webob.exc.HTTPServiceUnavailable,
}

# Every code a nova-usb route may answer besides 200/204 (500 stays what
# Nova makes of a bug: "Unexpected API Error").
EXPECTED = tuple(sorted(HTTP_ERRORS))


def http_error(code, message):
    return HTTP_ERRORS[code](explanation=message)


@contextlib.contextmanager
def translated(host_name):
    """Raise the Nova fault of any refusal from the block.

    ``host_name`` names the compute host in the messages about its
    service ("host compute1", or "the server's host" for callers who may
    not learn host names).
    """
    try:
        yield
    except exception.UsbChangeNotMade as e:
        raise http_error(503, exception.UsbChangeNotMade(
            host=host_name,
            reason=e.kwargs.get('reason', 'no reply in time')
        ).format_message())
    except exception.NovaUsbException as e:
        if e.code not in HTTP_ERRORS:
            raise
        raise http_error(e.code, e.format_message())
    except (nova_exception.InstanceNotFound,
            nova_exception.ComputeHostNotFound) as e:
        raise http_error(404, e.format_message())
    except nova_exception.InstanceInvalidState as e:
        # InstanceIsLocked too: its message names the server.
        raise http_error(409, e.format_message())
    except messaging.MessagingTimeout:
        raise http_error(503, exception.UsbComputeHostNoAnswer(
            host=host_name, reason='no reply in time').format_message())
    except messaging.RemoteError:
        # A failure on the compute host nova-usb does not know: a bug,
        # which Nova reports as such.
        raise
    except messaging.MessagingException as e:
        raise http_error(503, exception.UsbComputeHostNoAnswer(
            host=host_name,
            reason='message queue error: %s' % type(e).__name__
        ).format_message())
