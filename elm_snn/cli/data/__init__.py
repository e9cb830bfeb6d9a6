"""``elm-snn data ...``: the offline data generators and the NeuronIO converter, one thin
module per command over the library function that does the work.

* ``spoken-digits`` - :func:`elm_snn.synth.spoken_digits.generate_spoken_digits`
* ``neuronio-sim`` - :func:`elm_snn.synth.neuronio_sim.generate_neuronio_sim`
* ``neuronio-convert`` - :func:`elm_snn.data.neuronio.convert_neuronio_folder`
* ``listops`` - :func:`elm_snn.lra.listops.generate_listops`
* ``pathfinder`` - :func:`elm_snn.lra.pathfinder.generate_pathfinder`
"""
