"""The networks of the paper: SRResNet (`srresnet`) and the discriminator (`discriminator`).

Feature extractors of the content losses live with the losses (`srgan.losses.extractors`).

May import: srgan.core.
"""
