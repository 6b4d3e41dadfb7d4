"""The build stage: the app's image made from the Heroku release it runs (run by CodeBuild, see
:mod:`heroku2aws.image.slug_image`)."""
