"""Links carry complex64 samples: in-process simulator, GNU Radio over ZMQ, SoapySDR, SigMF replay."""
