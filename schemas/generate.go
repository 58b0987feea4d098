package schemas

// The Go structs in ztf/ and lsst/ are generated from our .avsc files with
// hamba's avrogen (a tool in go.mod). Regenerate after editing a schema:
//
//	cd schemas && go generate ./...
//
// TestGeneratedStructsUpToDate fails when the committed files are stale, and
// its generator options must stay in step with the lines below.

//go:generate go tool avrogen -pkg ztf -o ztf/ztf_gen.go -initialisms=ID,RA,FWHM avsc/ztf/4.02/cutout.avsc avsc/ztf/4.02/candidate.avsc avsc/ztf/4.02/prv_candidate.avsc avsc/ztf/4.02/fp_hist.avsc avsc/ztf/4.02/alert.avsc
//go:generate go tool avrogen -pkg lsst -o lsst/lsst_gen.go -initialisms=ID,RA avsc/lsst/10.0/lsst.v10_0.diaSource.avsc avsc/lsst/10.0/lsst.v10_0.diaForcedSource.avsc avsc/lsst/10.0/lsst.v10_0.diaObject.avsc avsc/lsst/10.0/lsst.v10_0.ssSource.avsc avsc/lsst/10.0/lsst.v10_0.mpc_orbits.avsc avsc/lsst/10.0/lsst.v10_0.alert.avsc
