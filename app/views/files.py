"""The Files tab of the customer's page: attach, list, download and delete files.

A mixin for CustomerView (route_base "/customers"): uploading needs `can_edit` on
customers, downloading `can_show`, deleting `can_delete`. Every file is reached through
its customer's scope, so another reseller's file is a 404 like a missing one.
"""
import logging

from flask import abort, current_app, flash, g, redirect, request, send_file, url_for
from flask_appbuilder import expose
from flask_appbuilder.security.decorators import has_access, permission_name

from app.extensions import db
from app.services.customers import files as customer_files
from app.services.errors import Invalid

log = logging.getLogger(__name__)


def file_settings() -> customer_files.FileSettings:
    """FILES_FOLDER (default <instance>/files, created if missing), FILES_MAX_BYTES, FILES_ALLOWED_TYPES."""
    settings = customer_files.settings_from(current_app.config, current_app.instance_path)
    settings.folder.mkdir(parents=True, exist_ok=True)
    return settings


class FilesMixin:
    """For CustomerView: the Files tab's routes, and `files_tab` for the page to include."""

    def files_tab(self, pk) -> dict:
        settings = customer_files.settings_from(current_app.config, current_app.instance_path)
        return {"files": customer_files.files_for(db.session, g.user, pk), "allowed": sorted(settings.allowed),
                "max_bytes": settings.max_bytes, "human_size": customer_files.human_size}

    @expose("/show/<pk>/files", methods=["POST"])
    @has_access
    @permission_name("edit")
    def upload_file(self, pk):
        back = redirect(url_for(f"{self.endpoint}.show", pk=pk, tab="files"))
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("Choose a file to attach.", "danger")
            return back
        settings = file_settings()
        try:
            record = customer_files.attach(db.session, g.user, pk, upload.stream, upload.filename, settings.folder,
                                           settings.max_bytes, settings.allowed)
        except Invalid as e:  # too large, a type not allowed: said above the files
            db.session.rollback()
            flash(e.messages, "danger")
            return back
        flash(f"{record.filename} attached.", "success")
        return back

    @expose("/files/<int:file_id>")
    @has_access
    @permission_name("show")
    def download_file(self, file_id):
        record = customer_files.get_file(db.session, g.user, file_id)
        path = customer_files.path_of(record, file_settings().folder)
        if not path.is_file():
            log.warning("Customer file %s has no bytes on disk (%s)", record.id, path)
            abort(404)
        response = send_file(path, mimetype=record.content_type, as_attachment=True,
                             download_name=record.filename, conditional=True, max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.cache_control.private = True
        return response

    @expose("/files/<int:file_id>/delete", methods=["POST"])
    @has_access
    @permission_name("delete")
    def delete_file(self, file_id):
        customer_id = customer_files.delete_file(db.session, g.user, file_id, file_settings().folder)
        flash("File deleted.", "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=customer_id, tab="files"))
