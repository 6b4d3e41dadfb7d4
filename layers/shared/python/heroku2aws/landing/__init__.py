"""The landing: the AWS side ``heroku2aws init`` sizes from the Heroku app and the template's Landing=create builds.

- :mod:`heroku2aws.landing.parameters`: the template parameters ``init`` writes into samconfig.toml (one name each,
  the single source of those names in Python; tests check them against template.yaml).
"""
