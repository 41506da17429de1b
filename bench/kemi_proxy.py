"""native-proxy.cfg's routing as a KEMI script: the bench's measure of what
running routes in embedded Python costs before vpbx decides anything."""

import KSR

FLAGS = "replace-origin replace-session-connection ICE=remove"
AOR = "sip:101@demo.vpbx.test"


def mod_init():
    return Proxy()


class Proxy:
    def child_init(self, rank):
        return 0

    def ksr_request_route(self, msg):
        if KSR.maxfwd.process_maxfwd(10) < 0:
            KSR.sl.sl_send_reply(483, "Too Many Hops")
            return 1
        if KSR.is_CANCEL():
            if KSR.tm.t_check_trans() > 0:
                KSR.rtpengine.rtpengine_manage("")
                KSR.tm.t_relay()
            return 1
        if KSR.siputils.has_totag() > 0:
            if KSR.rr.loose_route() > 0:
                if KSR.is_BYE():
                    KSR.rtpengine.rtpengine_manage("")
                KSR.tm.t_relay()
            elif KSR.is_ACK() and KSR.tm.t_check_trans() > 0:
                KSR.tm.t_relay()
            return 1
        if KSR.tmx.t_precheck_trans() > 0:
            KSR.tm.t_check_trans()
            return 1
        KSR.tm.t_check_trans()
        if KSR.is_REGISTER():
            KSR.registrar.save("location", 0)
            return 1
        if not KSR.is_INVITE():
            KSR.sl.sl_send_reply(405, "Method Not Allowed")
            return 1
        KSR.rr.record_route()
        KSR.seturi(AOR)
        if KSR.registrar.lookup("location") < 0:
            KSR.sl.sl_send_reply(480, "Temporarily Unavailable")
            return 1
        KSR.rtpengine.rtpengine_manage(FLAGS)
        KSR.tm.t_on_reply("ksr_manage_reply")
        if KSR.tm.t_relay() < 0:
            KSR.sl.sl_reply_error()
        return 1

    def ksr_manage_reply(self, msg):
        status = int(KSR.pv.get("$rs") or 0)
        if (status in (180, 183) or 200 <= status < 300) and KSR.textops.has_body_type("application/sdp") > 0:
            KSR.rtpengine.rtpengine_manage(FLAGS)
        return 1

    def ksr_reply_route(self, msg):
        return 1

    def ksr_onsend_route(self, msg):
        return 1
