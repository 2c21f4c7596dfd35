"""The Ming-UniAudio model stack, one module per component of the paper.

Importing this package pulls in torch; the DSP path never imports it.
"""
