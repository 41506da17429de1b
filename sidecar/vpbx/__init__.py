"""vpbx: a virtual PBX on Kamailio and rtpengine."""
